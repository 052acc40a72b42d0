using System.Globalization;
using Welkin.Core.Common;
using Welkin.Core.Security;

namespace Welkin.Core.Vault;

/// <summary>A part of a record's content: <see cref="Length"/> bytes (at least one) from <see cref="Offset"/>.</summary>
public readonly record struct ByteRange(long Offset, long Length)
{
    public long Last => Offset + Length - 1;
}

public sealed partial class RecordService
{
    /// <summary>
    /// Opens part of a record's content as <see cref="OpenAsync"/> opens all of it (audited as
    /// vault.record.read with the range), decrypting only the chunks that hold the range; the range
    /// must lie within the content.
    /// </summary>
    public async Task<Result<RecordContent>> OpenRangeAsync(Caller caller, string vaultId, string recordId, ByteRange range, CancellationToken ct)
    {
        if (Tenancy.RequireTenant(caller, Permission.ResourcesRead, "Reading a record's content") is { } denied)
        {
            return denied;
        }
        var found = await ReadableAsync(caller, vaultId, recordId, ct);
        if (!found.IsSuccess)
        {
            return found.Error!;
        }
        if (range.Offset < 0 || range.Length < 1 || range.Offset + range.Length > found.Value.SizeBytes)
        {
            return Error.Validation("range", "the range is not within the record's content");
        }
        var detail = string.Create(CultureInfo.InvariantCulture, $"vault={vaultId} range={range.Offset}-{range.Last}");
        return await OpenStoredAsync(caller, found.Value, "vault.record.read", detail, range, ct);
    }
}
