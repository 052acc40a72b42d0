using Welkin.Core.Data;

namespace Welkin.Persistence.Migrations;

/// <summary>
/// The blobs the blob store holds. Besides recording them, a blob's row is what an upload and a
/// delete of images with the same content both lock, so that a blob is never removed while an
/// image that uses it is being recorded.
/// </summary>
internal sealed class V0004_Blobs : IMigration
{
    public long Version => 4;

    public string Name => "blobs";

    public IReadOnlyList<string> Statements(IMigrationDialect d) =>
    [
        """
        CREATE TABLE blobs (
            sha256 TEXT PRIMARY KEY,
            size_bytes BIGINT NOT NULL,
            created_at BIGINT NOT NULL,
            updated_at BIGINT NOT NULL
        )
        """,
    ];
}
