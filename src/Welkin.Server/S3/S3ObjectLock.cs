using System.Globalization;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Vault;

namespace Welkin.Server.S3;

/// <summary>
/// S3 Object Lock over the vaults (Amazon S3 API Reference: PutObjectRetention, GetObjectRetention,
/// PutObjectLegalHold, GetObjectLegalHold, PutObjectLockConfiguration, GetObjectLockConfiguration,
/// PutBucketVersioning; the x-amz-object-lock-* headers of PutObject). The rules themselves are the
/// vault's (<see cref="RetentionRules"/>); S3's single legal-hold status is the record's hold
/// <see cref="HoldId"/>, and its ON status reads any hold.
/// </summary>
public sealed class S3ObjectLock(RecordService records, RecordKeys keys, VaultService vaults, S3Options options, TimeProvider clock)
{
    /// <summary>The legal hold S3's legal-hold status places and removes.</summary>
    public const string HoldId = "s3";

    private static readonly string[] DateFormats = ["yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd"];

    /// <summary>How PutObject's x-amz-object-lock-* headers ask a record to be written.</summary>
    public (RecordWrite? Write, S3Error? Error) WriteOf(HttpRequest request, S3Bucket bucket)
    {
        var headers = request.Headers;
        var (modeText, untilText, holdText) = (headers["x-amz-object-lock-mode"].ToString(), headers["x-amz-object-lock-retain-until-date"].ToString(),
            headers["x-amz-object-lock-legal-hold"].ToString());
        if (modeText.Length == 0 && untilText.Length == 0 && holdText.Length == 0)
        {
            return (new RecordWrite(), null);
        }
        if (!bucket.ObjectLock)
        {
            return (null, MissingLock());
        }
        if ((modeText.Length == 0) != (untilText.Length == 0))
        {
            return (null, S3Errors.InvalidRequest("x-amz-object-lock-retain-until-date and x-amz-object-lock-mode must both be supplied"));
        }
        RetentionMode? mode = null;
        DateTimeOffset? until = null;
        if (modeText.Length > 0)
        {
            if (ModeOf(modeText) is not { } m)
            {
                return (null, S3Errors.InvalidArgument("Unknown wormMode directive.") with { Extra = [("ArgumentName", "x-amz-object-lock-mode"), ("ArgumentValue", modeText)] });
            }
            if (DateOf(untilText) is not { } u)
            {
                return (null, S3Errors.InvalidArgument("The retain until date must be provided in ISO 8601 format.")
                    with { Extra = [("ArgumentName", "x-amz-object-lock-retain-until-date"), ("ArgumentValue", untilText)] });
            }
            if (u <= clock.GetUtcNow())
            {
                return (null, PastDate());
            }
            (mode, until) = (m, u);
        }
        if (holdText.Length > 0 && holdText is not ("ON" or "OFF"))
        {
            return (null, S3Errors.InvalidArgument("Legal Hold must be either of 'ON' or 'OFF'") with { Extra = [("ArgumentName", "x-amz-object-lock-legal-hold"), ("ArgumentValue", holdText)] });
        }
        return (new RecordWrite(Mode: mode, RetainUntil: until, LegalHold: holdText == "ON" ? HoldId : null), null);
    }

    /// <summary>?retention and ?legal-hold on an object (of its current version, or of versionId).</summary>
    public async Task<S3Error?> ObjectAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId, string key)
    {
        var request = context.Request;
        var (get, put) = (HttpMethods.IsGet(request.Method), HttpMethods.IsPut(request.Method));
        if (!get && !put)
        {
            return S3Errors.MethodNotAllowed();
        }
        if (RecordService.CheckKey(key) is { } badKey)
        {
            return S3Errors.InvalidArgument(badKey.Detail);
        }
        if (!bucket.ObjectLock)
        {
            return MissingLock();
        }
        var ct = context.RequestAborted;
        var versionId = request.Query["versionId"].ToString();
        var found = versionId.Length == 0 ? await keys.CurrentAsync(identity.Caller, vaultId, key, ct) : await VersionAsync(identity, vaultId, key, versionId, ct);
        if (!found.IsSuccess)
        {
            return versionId.Length == 0 ? S3Objects.ObjectError(found.Error!, bucket, key) : S3Objects.VersionError(found.Error!, key, versionId);
        }
        var record = found.Value;
        var retention = request.Query.ContainsKey("retention");
        if (get)
        {
            return retention ? await GetRetentionAsync(context, record) : await GetLegalHoldAsync(context, record);
        }
        var (body, refused) = await ChecksummedXmlAsync(request, identity, ct);
        if (refused is not null)
        {
            return refused;
        }
        var changed = retention ? await PutRetentionAsync(request, identity, vaultId, record, body!, ct) : await PutLegalHoldAsync(identity, vaultId, record, body!, ct);
        return changed ?? Empty(context);
    }

    public async Task<S3Error?> GetConfigurationAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId)
    {
        var found = await vaults.GetDefaultRetentionAsync(identity.Caller, vaultId, context.RequestAborted);
        if (!found.IsSuccess)
        {
            return S3Errors.From(found.Error!, () => S3Errors.NoSuchBucket(bucket.Name));
        }
        if (!found.Value.ObjectLock)
        {
            return new S3Error("ObjectLockConfigurationNotFoundError", 404, "Object Lock configuration does not exist for this bucket") { Extra = [("BucketName", bucket.Name)] };
        }
        var rule = found.Value;
        await S3Gateway.WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "ObjectLockConfiguration", S3Gateway.Namespace);
            await xml.WriteElementStringAsync(null, "ObjectLockEnabled", S3Gateway.Namespace, "Enabled");
            if (rule.Mode is { } mode)
            {
                await xml.WriteStartElementAsync(null, "Rule", S3Gateway.Namespace);
                await xml.WriteStartElementAsync(null, "DefaultRetention", S3Gateway.Namespace);
                await xml.WriteElementStringAsync(null, "Mode", S3Gateway.Namespace, ModeName(mode));
                await xml.WriteElementStringAsync(null, rule.Days is null ? "Years" : "Days", S3Gateway.Namespace,
                    (rule.Days ?? rule.Years ?? 0).ToString(CultureInfo.InvariantCulture));
                await xml.WriteEndElementAsync();
                await xml.WriteEndElementAsync();
            }
            await xml.WriteEndElementAsync();
        });
        return null;
    }

    /// <summary>
    /// PutObjectLockConfiguration: <c>ObjectLockEnabled</c> must be <c>Enabled</c> (it turns Object Lock
    /// on for a vault without it: every vault is versioned); a <c>Rule</c> sets the default retention,
    /// none removes it.
    /// </summary>
    public async Task<S3Error?> PutConfigurationAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId)
    {
        var ct = context.RequestAborted;
        var (root, refused) = await ChecksummedXmlAsync(context.Request, identity, ct);
        if (refused is not null)
        {
            return refused;
        }
        if (root!.Name.LocalName != "ObjectLockConfiguration" || Text(root, "ObjectLockEnabled") != "Enabled")
        {
            return S3Errors.MalformedXml();
        }
        var request = new DefaultRetentionRequest();
        if (Child(root, "Rule") is { } rule)
        {
            var retention = Child(rule, "DefaultRetention");
            var (days, years) = (Text(retention, "Days"), Text(retention, "Years"));
            if (retention is null || ModeOf(Text(retention, "Mode")) is not { } mode || (days is null) == (years is null)
                || !int.TryParse(days ?? years, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var period))
            {
                return S3Errors.MalformedXml();
            }
            if (period <= 0)
            {
                return S3Errors.InvalidArgument("Default retention period must be a positive integer value.");
            }
            if (period > (days is null ? RetentionRules.MaxYears : VaultService.MaxDefaultDays))
            {
                return S3Errors.InvalidArgument($"Default retention period is too large: at most {VaultService.MaxDefaultDays} days or {RetentionRules.MaxYears} years.");
            }
            request = days is null ? new DefaultRetentionRequest(mode, Years: period) : new DefaultRetentionRequest(mode, Days: period);
        }
        var set = await vaults.SetDefaultRetentionAsync(identity.Caller, vaultId, request, enableObjectLock: true, ct);
        return set.IsSuccess ? Empty(context) : S3Errors.From(set.Error!, () => S3Errors.NoSuchBucket(bucket.Name));
    }

    /// <summary>PutBucketVersioning: a vault is always versioned, so Enabled changes nothing and Suspended is refused.</summary>
    public async Task<S3Error?> PutVersioningAsync(HttpContext context, S3Identity identity, S3Bucket bucket, string vaultId)
    {
        if (VaultService.Check(identity.Caller, vaultId, "Changing a bucket's versioning") is { } denied)
        {
            return S3Errors.From(denied, () => S3Errors.NoSuchBucket(bucket.Name));
        }
        var (root, refused) = await ChecksummedXmlAsync(context.Request, identity, context.RequestAborted);
        if (refused is not null)
        {
            return refused;
        }
        if (root!.Name.LocalName != "VersioningConfiguration" || Text(root, "Status") is not (null or "Enabled" or "Suspended")
            || Text(root, "MfaDelete") is not (null or "Enabled" or "Disabled"))
        {
            return S3Errors.MalformedXml();
        }
        if (Text(root, "Status") == "Suspended")
        {
            return new S3Error("InvalidBucketState", 409, bucket.ObjectLock
                ? "An Object Lock configuration is present on this bucket, so the versioning state cannot be changed."
                : "A retention vault keeps every version: its versioning cannot be suspended.");
        }
        if (Text(root, "MfaDelete") == "Enabled")
        {
            return S3Errors.NotImplemented("MFA delete is not available on this endpoint.");
        }
        return Empty(context);
    }

    private async Task<S3Error?> PutRetentionAsync(HttpRequest request, S3Identity identity, string vaultId, VaultRecordView record, XElement root, CancellationToken ct)
    {
        var (modeText, untilText) = (Text(root, "Mode"), Text(root, "RetainUntilDate"));
        if (root.Name.LocalName != "Retention" || (modeText is null) != (untilText is null))
        {
            return S3Errors.MalformedXml();
        }
        RetentionMode? mode = null;
        DateTimeOffset? until = null;
        if (modeText is not null)
        {
            if (ModeOf(modeText) is not { } m || DateOf(untilText!) is not { } u)
            {
                return S3Errors.MalformedXml();
            }
            if (u <= clock.GetUtcNow())
            {
                return PastDate();
            }
            (mode, until) = (m, u);
        }
        var bypass = string.Equals(request.Headers["x-amz-bypass-governance-retention"].ToString(), "true", StringComparison.OrdinalIgnoreCase);
        var set = await records.SetRetentionAsync(identity.Caller, vaultId, record.Id, new RecordRetentionRequest(mode, until, bypass), ct);
        return set.IsSuccess ? null : S3Errors.From(set.Error!, () => S3Objects.NoSuchKey(record.Key));
    }

    private async Task<S3Error?> PutLegalHoldAsync(S3Identity identity, string vaultId, VaultRecordView record, XElement root, CancellationToken ct)
    {
        if (root.Name.LocalName != "LegalHold" || Text(root, "Status") is not ("ON" or "OFF"))
        {
            return S3Errors.MalformedXml();
        }
        var set = await records.SetLegalHoldStatusAsync(identity.Caller, vaultId, record.Id, HoldId, Text(root, "Status") == "ON", ct);
        return set.IsSuccess ? null : S3Errors.From(set.Error!, () => S3Objects.NoSuchKey(record.Key));
    }

    private static async Task<S3Error?> GetRetentionAsync(HttpContext context, VaultRecordView record)
    {
        if (record.Mode is not { } mode || record.RetainUntil is not { } until)
        {
            return new S3Error("NoSuchObjectLockConfiguration", 404, "The specified object does not have a ObjectLock configuration");
        }
        await S3Gateway.WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "Retention", S3Gateway.Namespace);
            await xml.WriteElementStringAsync(null, "Mode", S3Gateway.Namespace, ModeName(mode));
            await xml.WriteElementStringAsync(null, "RetainUntilDate", S3Gateway.Namespace, S3Gateway.Timestamp(until));
            await xml.WriteEndElementAsync();
        });
        return null;
    }

    private static async Task<S3Error?> GetLegalHoldAsync(HttpContext context, VaultRecordView record)
    {
        await S3Gateway.WriteXmlAsync(context, async xml =>
        {
            await xml.WriteStartElementAsync(null, "LegalHold", S3Gateway.Namespace);
            await xml.WriteElementStringAsync(null, "Status", S3Gateway.Namespace, record.HoldIds.Count > 0 ? "ON" : "OFF");
            await xml.WriteEndElementAsync();
        });
        return null;
    }

    /// <summary>A version of the key: a stored record of the vault under this key.</summary>
    private async Task<Result<VaultRecordView>> VersionAsync(S3Identity identity, string vaultId, string key, string versionId, CancellationToken ct)
    {
        if (!Ids.IsValid(versionId, Ids.VaultRecord))
        {
            return Error.Validation("versionId", "Invalid version id specified");
        }
        var found = await records.GetAsync(identity.Caller, vaultId, versionId, ct);
        return found.IsSuccess && (found.Value.Key != key || found.Value.State != VaultRecordState.Stored) ? Error.NotFound("Version", versionId) : found;
    }

    /// <summary>An XML body of an operation S3 requires an integrity header for (Content-MD5 or x-amz-checksum-*), checked against it.</summary>
    private async Task<(XElement? Root, S3Error? Error)> ChecksummedXmlAsync(HttpRequest request, S3Identity identity, CancellationToken ct)
    {
        var (body, error) = await S3Xml.ReadBodyAsync(request, identity, options.MaxXmlBodyBytes, ct);
        if (error is not null)
        {
            return (null, error);
        }
        if (S3Checksums.CheckRequired(request.Headers, body!) is { } bad)
        {
            return (null, bad);
        }
        var (document, malformed) = S3Xml.Parse(body!);
        return malformed is not null ? (null, malformed) : (document!.Root, null);
    }

    /// <summary>Answers 200 with no body (what S3's Put operations on subresources answer).</summary>
    private static S3Error? Empty(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.Headers["x-amz-request-id"] = context.TraceIdentifier;
        context.Response.ContentLength = 0;
        return null;
    }

    private static S3Error MissingLock() => S3Errors.InvalidRequest("Bucket is missing Object Lock Configuration");

    private static S3Error PastDate() => S3Errors.InvalidArgument("The retain until date must be in the future!");

    private static RetentionMode? ModeOf(string? text) => text switch
    {
        "GOVERNANCE" => RetentionMode.Governance,
        "COMPLIANCE" => RetentionMode.Compliance,
        _ => null,
    };

    internal static string ModeName(RetentionMode mode) => mode == RetentionMode.Compliance ? "COMPLIANCE" : "GOVERNANCE";

    private static DateTimeOffset? DateOf(string text) =>
        DateTimeOffset.TryParseExact(text, DateFormats, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var date)
            ? date : null;

    private static XElement? Child(XElement? parent, string name) => parent?.Elements().FirstOrDefault(e => e.Name.LocalName == name);

    private static string? Text(XElement? parent, string name) => Child(parent, name)?.Value.Trim();
}
