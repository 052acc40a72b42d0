namespace Welkin.Cli.Infrastructure;

/// <summary>
/// A new file for one token, created owner-only (0600) by the open call itself, so there is no
/// moment when another user could read it; an existing file is never overwritten.
/// </summary>
internal sealed class TokenFile : IAsyncDisposable
{
    private readonly FileStream _stream;
    private bool _written;

    private TokenFile(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
    }

    public string Path { get; }

    public static TokenFile CreateNew(string path)
    {
        var full = System.IO.Path.GetFullPath(path);
        try
        {
            var stream = new FileStream(full, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.None,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            return new TokenFile(full, stream);
        }
        catch (IOException) when (File.Exists(full))
        {
            throw new CliException($"{full} exists already: a token file is never overwritten.");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliException($"Cannot create {full}: {e.Message}");
        }
    }

    public async Task WriteAsync(string secret, CancellationToken ct)
    {
        await _stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(secret + "\n"), ct);
        await _stream.FlushAsync(ct);
        _written = true;
    }

    /// <summary>Closes the file; one that never received its token is removed.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        if (!_written && File.Exists(Path) && new FileInfo(Path).Length == 0)
        {
            File.Delete(Path);
        }
    }
}
