using System.Net.Http.Headers;
using Welkin.Contracts;

namespace Welkin.Client;

/// <summary>
/// The retention vault (<c>/api/v1/vaults</c>): vaults, retention classes, write-once records with
/// streamed bodies, retention and legal holds, and destruction certificates.
/// </summary>
public sealed class VaultsClient
{
    private readonly ApiConnection _api;

    internal VaultsClient(ApiConnection api) => _api = api;

    /// <summary>Creates a vault of a whole number of the storage line's increments.</summary>
    public Task<VaultView> CreateAsync(CreateVaultRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<VaultView>(HttpMethod.Post, _api.Resolve("api/v1/vaults"), request, ct);

    /// <summary>A page of vaults (deleted ones with <paramref name="deleted"/>).</summary>
    public Task<Page<VaultView>> ListAsync(string? contractId = null, bool? deleted = null, string? accountId = null, string? after = null, int? limit = null,
        CancellationToken ct = default) =>
        _api.GetAsync<Page<VaultView>>(_api.Resolve("api/v1/vaults",
            ("contractId", contractId), ("deleted", deleted), ("accountId", accountId), ("after", after), ("limit", limit)), ct);

    /// <summary>One vault: capacity, stored bytes, records, Object Lock.</summary>
    public Task<VaultView> GetAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<VaultView>(_api.Resolve(Path(id)), ct);

    /// <summary>Deletes a vault that holds no stored record; its increments go back to the contract line.</summary>
    public Task<VaultView> DeleteAsync(string id, long? version = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<VaultView>(HttpMethod.Delete, _api.Resolve(Path(id), ("version", version)), null, ct);

    /// <summary>Turns Object Lock on; it cannot be turned off.</summary>
    public Task<VaultView> EnableObjectLockAsync(string id, long? version = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<VaultView>(HttpMethod.Post, _api.Resolve(Path(id) + "/object-lock", ("version", version)), null, ct);

    /// <summary>The vault's default retention (S3's Object Lock rule): what a record written without a class or an explicit retention gets.</summary>
    public Task<DefaultRetentionView> GetDefaultRetentionAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<DefaultRetentionView>(_api.Resolve(Path(id) + "/default-retention"), ct);

    /// <summary>Sets the vault's default retention (a mode and days or years), or removes it (all null).</summary>
    public Task<DefaultRetentionView> SetDefaultRetentionAsync(string id, DefaultRetentionRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<DefaultRetentionView>(HttpMethod.Put, _api.Resolve(Path(id) + "/default-retention"), request, ct);

    /// <summary>The auditor's report of the vault for a period (both ends included; defaults: the vault's creation and now).</summary>
    public Task<SoxReportView> SoxReportAsync(string id, DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken ct = default) =>
        _api.GetAsync<SoxReportView>(SoxReportUri(Path(id), from, to), ct);

    /// <summary>The same report as a printable HTML page.</summary>
    public Task<string> SoxReportHtmlAsync(string id, DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken ct = default) =>
        HtmlAsync(SoxReportUri(Path(id), from, to), ct);

    /// <summary>The auditor's report of every vault of an account for a period (defaults: the first vault's creation and now).</summary>
    public Task<AccountSoxReportView> AccountSoxReportAsync(string accountId, DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken ct = default) =>
        _api.GetAsync<AccountSoxReportView>(SoxReportUri("api/v1/accounts/" + ApiConnection.Segment(accountId), from, to), ct);

    /// <summary>The account's report as a printable HTML page.</summary>
    public Task<string> AccountSoxReportHtmlAsync(string accountId, DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken ct = default) =>
        HtmlAsync(SoxReportUri("api/v1/accounts/" + ApiConnection.Segment(accountId), from, to), ct);

    private async Task<string> HtmlAsync(Uri uri, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/html"));
        using var response = await _api.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        return await response.Content.ReadAsStringAsync(ct);
    }

    private Uri SoxReportUri(string path, DateTimeOffset? from, DateTimeOffset? to) =>
        _api.Resolve(path + "/sox-report", ("from", from?.ToString("O", System.Globalization.CultureInfo.InvariantCulture)),
            ("to", to?.ToString("O", System.Globalization.CultureInfo.InvariantCulture)));

    /// <summary>Creates a retention class (classes do not change once made).</summary>
    public Task<RetentionClassView> CreateClassAsync(string id, CreateRetentionClassRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<RetentionClassView>(HttpMethod.Post, _api.Resolve(Path(id) + "/classes"), request, ct);

    /// <summary>The vault's retention classes, by name.</summary>
    public Task<List<RetentionClassView>> ClassesAsync(string id, CancellationToken ct = default) =>
        _api.GetAsync<List<RetentionClassView>>(_api.Resolve(Path(id) + "/classes"), ct);

    /// <summary>
    /// Writes a new version of <paramref name="key"/> by streaming <paramref name="content"/> (read to
    /// its end, not disposed); with <paramref name="sha256"/> the server keeps nothing unless the bytes match.
    /// </summary>
    public async Task<VaultRecordView> PutAsync(string id, string key, Stream content, string? className = null, string? sha256 = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        using var request = new HttpRequestMessage(HttpMethod.Post, _api.Resolve(Path(id) + "/records", ("key", key), ("class", className), ("sha256", sha256)))
        {
            Content = new StreamContent(content),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        request.Headers.ExpectContinue = true;
        return await _api.ReadAsync<VaultRecordView>(request, ct);
    }

    /// <summary>A page of the vault's records: every version, or one key's; destroyed ones with <paramref name="shredded"/>.</summary>
    public Task<Page<VaultRecordView>> RecordsAsync(string id, string? key = null, bool? shredded = null, string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<VaultRecordView>>(_api.Resolve(Path(id) + "/records", ("key", key), ("shredded", shredded), ("after", after), ("limit", limit)), ct);

    /// <summary>One record's description: digest, size, retention, holds, state.</summary>
    public Task<VaultRecordView> RecordAsync(string id, string recordId, CancellationToken ct = default) =>
        _api.GetAsync<VaultRecordView>(_api.Resolve(RecordPath(id, recordId)), ct);

    /// <summary>Streams a record's bytes into <paramref name="destination"/> (not disposed); returns the bytes written.</summary>
    public async Task<long> ReadAsync(string id, string recordId, Stream destination, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        using var request = new HttpRequestMessage(HttpMethod.Get, _api.Resolve(RecordPath(id, recordId) + "/content"));
        using var response = await _api.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        await using var body = await response.Content.ReadAsStreamAsync(ct);
        var written = await Transfers.CopyAsync(body, destination, null, ct);
        if (response.Content.Headers.ContentLength is { } length && length != written)
        {
            throw new WelkinProtocolException($"The record's content ended after {written} of {length} bytes.");
        }
        return written;
    }

    /// <summary>Destroys a record its retention and holds let go; answers its destruction certificate.</summary>
    public Task<DestructionCertificateView> DeleteRecordAsync(string id, string recordId, bool bypassGovernance = false, long? version = null, CancellationToken ct = default) =>
        _api.SendJsonAsync<DestructionCertificateView>(HttpMethod.Delete,
            _api.Resolve(RecordPath(id, recordId), ("bypassGovernance", bypassGovernance ? true : null), ("version", version)), null, ct);

    /// <summary>Changes a record's retention; shortening governance retention needs <c>BypassGovernance</c> and the bypass permission, compliance never shortens.</summary>
    public Task<VaultRecordView> SetRetentionAsync(string id, string recordId, RecordRetentionRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<VaultRecordView>(HttpMethod.Put, _api.Resolve(RecordPath(id, recordId) + "/retention"), request, ct);

    /// <summary>Places a legal hold (CDMI cdmi_hold_id) on a record.</summary>
    public Task<VaultRecordView> PlaceHoldAsync(string id, string recordId, string holdId, CancellationToken ct = default) =>
        _api.SendJsonAsync<VaultRecordView>(HttpMethod.Put, _api.Resolve(RecordPath(id, recordId) + "/holds/" + ApiConnection.Segment(holdId)), null, ct);

    /// <summary>Removes a legal hold from a record.</summary>
    public Task<VaultRecordView> RemoveHoldAsync(string id, string recordId, string holdId, CancellationToken ct = default) =>
        _api.SendJsonAsync<VaultRecordView>(HttpMethod.Delete, _api.Resolve(RecordPath(id, recordId) + "/holds/" + ApiConnection.Segment(holdId)), null, ct);

    /// <summary>A page of the vault's destruction certificates, by record id.</summary>
    public Task<Page<DestructionCertificateView>> CertificatesAsync(string id, string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<DestructionCertificateView>>(_api.Resolve(Path(id) + "/certificates", ("after", after), ("limit", limit)), ct);

    /// <summary>The destruction certificate of one record.</summary>
    public Task<DestructionCertificateView> CertificateAsync(string id, string recordId, CancellationToken ct = default) =>
        _api.GetAsync<DestructionCertificateView>(_api.Resolve(Path(id) + "/certificates/" + ApiConnection.Segment(recordId)), ct);

    /// <summary>The cloud's public key that signs destruction certificates, to verify them offline.</summary>
    public Task<AuditSigningKeyView> CertificateKeyAsync(CancellationToken ct = default) =>
        _api.GetAsync<AuditSigningKeyView>(_api.Resolve("api/v1/vault-keys/certificate-key"), ct);

    /// <summary>Rotates the caller's account's tenant key: every data key is rewrapped, no record rewritten.</summary>
    public Task<VaultKeyRotationView> RotateKeyAsync(CancellationToken ct = default) =>
        _api.SendJsonAsync<VaultKeyRotationView>(HttpMethod.Post, _api.Resolve("api/v1/vault-keys/rotate"), null, ct);

    /// <summary>Grants a regulator records of a vault until a time (the provider gives the legal basis).</summary>
    public Task<VaultGrantView> CreateGrantAsync(CreateVaultGrantRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<VaultGrantView>(HttpMethod.Post, _api.Resolve("api/v1/vault-grants"), request, ct);

    /// <summary>The grants the caller sees: the account's on its data, a regulator's to it.</summary>
    public Task<Page<VaultGrantView>> GrantsAsync(string? after = null, int? limit = null, CancellationToken ct = default) =>
        _api.GetAsync<Page<VaultGrantView>>(_api.Resolve("api/v1/vault-grants", ("after", after), ("limit", limit)), ct);

    /// <summary>Revokes a grant; its links stop working at once.</summary>
    public Task<VaultGrantView> RevokeGrantAsync(string grantId, CancellationToken ct = default) =>
        _api.SendJsonAsync<VaultGrantView>(HttpMethod.Delete, _api.Resolve("api/v1/vault-grants/" + ApiConnection.Segment(grantId)), null, ct);

    /// <summary>Signed, expiring links to a grant's records (its regulator only).</summary>
    public Task<VaultGrantLinksView> GrantLinksAsync(string grantId, CreateVaultGrantLinksRequest request, CancellationToken ct = default) =>
        _api.SendJsonAsync<VaultGrantLinksView>(HttpMethod.Post, _api.Resolve("api/v1/vault-grants/" + ApiConnection.Segment(grantId) + "/links"), request, ct);

    private static string Path(string id) => "api/v1/vaults/" + ApiConnection.Segment(id);

    private static string RecordPath(string id, string recordId) => Path(id) + "/records/" + ApiConnection.Segment(recordId);
}
