namespace Welkin.Core.Vault;

public sealed class VaultOptions
{
    /// <summary>Where the encrypted records (<c>blobs/</c>) and their wrapped data keys (<c>keys/</c>) live (the server uses <c>&lt;data-dir&gt;/vault</c>).</summary>
    public required string Directory { get; init; }

    /// <summary>Largest record, in bytes.</summary>
    public long MaxRecordBytes { get; init; } = 5L * 1024 * 1024 * 1024;

    /// <summary>Plaintext bytes per encrypted chunk (<see cref="VaultCipher"/>).</summary>
    public int ChunkBytes { get; init; } = VaultCipher.DefaultChunkBytes;

    /// <summary>How often expired records with auto-delete are destroyed.</summary>
    public TimeSpan SweepInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Records destroyed per sweep at most (the next sweep takes the rest).</summary>
    public int SweepBatch { get; init; } = 1000;

    /// <summary>How long a multipart upload may stay open without a new part before the sweep aborts it.</summary>
    public TimeSpan UploadExpiry { get; init; } = TimeSpan.FromDays(7);

    public string BlobDirectory => Path.Combine(Directory, "blobs");

    public string KeyDirectory => Path.Combine(Directory, "keys");

    public string UploadDirectory => Path.Combine(Directory, "uploads");

    public void Validate()
    {
        if (MaxRecordBytes <= 0)
        {
            throw new ArgumentException("Vault:MaxRecordBytes must be positive.");
        }
        if (ChunkBytes is < 1024 or > 16 * 1024 * 1024)
        {
            throw new ArgumentException("Vault:ChunkBytes must be between 1 KiB and 16 MiB.");
        }
        if (SweepInterval <= TimeSpan.Zero || SweepBatch <= 0)
        {
            throw new ArgumentException("Vault:SweepInterval and Vault:SweepBatch must be positive.");
        }
        if (UploadExpiry <= TimeSpan.Zero)
        {
            throw new ArgumentException("Vault:UploadExpiry must be positive.");
        }
    }
}
