using System.Security.Cryptography;
using Welkin.Core.Catalog.Images;
using Welkin.Core.Common;
using Welkin.Testing.Images;

namespace Welkin.Core.Tests.Images;

public sealed class FileBlobStoreTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "welkin-blobs-" + Guid.NewGuid().ToString("n"));
    private readonly FileBlobStore _store;

    public FileBlobStoreTests() => _store = new FileBlobStore(_root);

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task StageAsync_ThenCommit_StoresContentUnderItsDigest()
    {
        var content = DiskHeaders.Raw(300_000, 7);
        var staged = (await _store.StageAsync(new MemoryStream(content), 1_000_000, Ct)).Value;
        await using (staged)
        {
            staged.Sha256.ShouldBe(Convert.ToHexStringLower(SHA256.HashData(content)));
            staged.SizeBytes.ShouldBe(content.Length);
            staged.Head.ToArray().ShouldBe(content[..BlobHead.Length]);
            staged.Tail.ToArray().ShouldBe(content[^BlobHead.Length..]);
            _store.Exists(staged.Sha256).ShouldBeFalse();
            staged.Commit();
        }
        var path = Path.Combine(_root, "sha256", staged.Sha256[..2], staged.Sha256);
        _store.PathOf(staged.Sha256).ShouldBe(path);
        (await File.ReadAllBytesAsync(path, Ct)).ShouldBe(content);
        Directory.GetFiles(_store.StagingDirectory).ShouldBeEmpty();
    }

    [Fact]
    public async Task StageAsync_WhenShorterThanHead_KeepsWholeContentAsHead()
    {
        await using var staged = (await _store.StageAsync(new MemoryStream("QFI"u8.ToArray()), 100, Ct)).Value;
        staged.Head.ToArray().ShouldBe("QFI"u8.ToArray());
        staged.Tail.ToArray().ShouldBe("QFI"u8.ToArray());
        staged.SizeBytes.ShouldBe(3);
    }

    [Fact]
    public async Task StageAsync_WhenReadInSmallPieces_HeadAndTailSpanReads()
    {
        var content = DiskHeaders.Raw(2000, 3);
        await using var staged = (await _store.StageAsync(new TricklingStream(content, 100), 10_000, Ct)).Value;
        staged.Head.ToArray().ShouldBe(content[..BlobHead.Length]);
        staged.Tail.ToArray().ShouldBe(content[^BlobHead.Length..]);
        staged.Sha256.ShouldBe(Convert.ToHexStringLower(SHA256.HashData(content)));
    }

    [Fact]
    public async Task Commit_WhenDigestAlreadyStored_KeepsOneFile()
    {
        var content = DiskHeaders.Raw(10_000, 11);
        for (var i = 0; i < 2; i++)
        {
            await using var staged = (await _store.StageAsync(new MemoryStream(content), 100_000, Ct)).Value;
            staged.Commit();
        }
        Directory.GetFiles(Path.Combine(_root, "sha256"), "*", SearchOption.AllDirectories).Length.ShouldBe(1);
        Directory.GetFiles(_store.StagingDirectory).ShouldBeEmpty();
    }

    [Fact]
    public async Task Dispose_WithoutCommit_LeavesNothing()
    {
        await using (var staged = (await _store.StageAsync(new MemoryStream(DiskHeaders.Raw(1000, 5)), 100_000, Ct)).Value)
        {
            Directory.GetFiles(_store.StagingDirectory).Length.ShouldBe(1);
        }
        Directory.GetFiles(_store.StagingDirectory).ShouldBeEmpty();
        Directory.Exists(Path.Combine(_root, "sha256")).ShouldBeFalse();
    }

    [Fact]
    public async Task StageAsync_WhenOverLimit_ReturnsPayloadTooLargeAndLeavesNothing()
    {
        var result = await _store.StageAsync(new MemoryStream(DiskHeaders.Raw(1001, 5)), 1000, Ct);
        result.IsSuccess.ShouldBeFalse();
        result.Error!.Kind.ShouldBe(ErrorKind.PayloadTooLarge);
        Directory.GetFiles(_store.StagingDirectory).ShouldBeEmpty();
    }

    [Fact]
    public async Task StageAsync_WhenExactlyAtLimit_Succeeds()
    {
        await using var staged = (await _store.StageAsync(new MemoryStream(DiskHeaders.Raw(1000, 5)), 1000, Ct)).Value;
        staged.SizeBytes.ShouldBe(1000);
    }

    [Fact]
    public async Task StageAsync_WhenSourceFails_RethrowsAndLeavesNothing()
    {
        await Should.ThrowAsync<IOException>(() => _store.StageAsync(new FailingStream(50_000), 1_000_000, Ct));
        Directory.GetFiles(_store.StagingDirectory).ShouldBeEmpty();
    }

    [Fact]
    public async Task Detach_ThenUndo_RestoresBlob_ThenComplete_RemovesIt()
    {
        var content = DiskHeaders.Raw(5000, 9);
        string sha;
        await using (var staged = (await _store.StageAsync(new MemoryStream(content), 100_000, Ct)).Value)
        {
            staged.Commit();
            sha = staged.Sha256;
        }
        var removal = _store.Detach(sha).ShouldNotBeNull();
        _store.Exists(sha).ShouldBeFalse();
        _store.OpenRead(sha).ShouldBeNull();
        removal.Undo();
        _store.Exists(sha).ShouldBeTrue();

        _store.Detach(sha).ShouldNotBeNull().Complete();
        _store.Exists(sha).ShouldBeFalse();
        Directory.GetFiles(_store.TrashDirectory).ShouldBeEmpty();
        _store.Detach(sha).ShouldBeNull();
    }

    [Fact]
    public async Task OpenRead_IsSeekableAndSurvivesDetach()
    {
        var content = DiskHeaders.Raw(5000, 13);
        string sha;
        await using (var staged = (await _store.StageAsync(new MemoryStream(content), 100_000, Ct)).Value)
        {
            staged.Commit();
            sha = staged.Sha256;
        }
        await using var stream = _store.OpenRead(sha).ShouldNotBeNull();
        _store.Detach(sha)!.Complete();
        stream.CanSeek.ShouldBeTrue();
        stream.Seek(4000, SeekOrigin.Begin);
        var tail = new byte[1000];
        await stream.ReadExactlyAsync(tail, Ct);
        tail.ShouldBe(content[4000..]);
    }

    [Theory]
    [InlineData("../../etc/passwd")]
    [InlineData("ABCDEF0000000000000000000000000000000000000000000000000000000000")]
    [InlineData("abc")]
    public void PathOf_WhenNotALowerCaseDigest_Throws(string name) =>
        Should.Throw<ArgumentException>(() => _store.PathOf(name));

    private sealed class TricklingStream(byte[] content, int piece) : MemoryStream(content)
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            base.ReadAsync(buffer[..Math.Min(piece, buffer.Length)], cancellationToken);
    }

    /// <summary>Gives some bytes, then fails as a dropped connection does.</summary>
    private sealed class FailingStream(int bytesBeforeFailure) : Stream
    {
        private int _given;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _given; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_given >= bytesBeforeFailure)
            {
                throw new IOException("connection reset");
            }
            var n = Math.Min(count, bytesBeforeFailure - _given);
            buffer.AsSpan(offset, n).Fill(0x42);
            _given += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
