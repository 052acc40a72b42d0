using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Compute;
using Welkin.Core.Data;
using Welkin.Core.Federation;
using Welkin.Core.Security;
using Welkin.Intercloud.Federation;
using Welkin.Intercloud.Trust;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Federation;

/// <summary>
/// Federation agreements as the provider admin sees them, on both sides. As consumer: a request is
/// recorded <c>proposed</c> before the peer is called over mutual TLS, so a crash or an unreachable
/// peer loses nothing (<see cref="RetryProposedAsync"/> sends it again with the same proposal id, which
/// the provider answers as it did the first time). Terminations tell the other side; trust ending
/// (a revoked certificate, the provider admin's distrust) terminates without asking anyone.
/// </summary>
public sealed class FederationAgreements(
    AgreementStore store, AgreementProvider provider, PeerStore peers, IDatabase db, FederationOptions options, IServiceProvider services,
    ILogger<FederationAgreements> logger) : IPeerCharges
{
    private static readonly Caller Federation = Caller.System("federation");
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(15);
    private const int MaxInvoices = 12;

    private FederationCredentials? Credentials => services.GetService<FederationCredentials>();

    /// <summary>This cloud's API base as peers reach it: the federation listener's scheme, host and port.</summary>
    public string OwnApiUrl => options.Url is { } url && Uri.TryCreate(url, UriKind.Absolute, out var u) ? u.GetLeftPart(UriPartial.Authority) + "/" : "";

    public static Error? RequireAdmin(Caller caller) =>
        caller.IsProvider && caller.Can(Permission.AccountsWriteAll) ? null : Error.Forbidden("Federation agreements and the federation policy are the provider admin's.");

    public async Task<Result<IReadOnlyList<AgreementView>>> ListAsync(Caller caller, CancellationToken ct) =>
        RequireAdmin(caller) is { } denied ? denied : (await store.ListAsync(ct)).Select(AgreementStore.ToView).ToList();

    public async Task<Result<AgreementDetail>> GetAsync(Caller caller, string id, CancellationToken ct)
    {
        if (RequireAdmin(caller) is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(id, Ids.Agreement))
        {
            return Error.InvalidId(id, "agreement");
        }
        var row = await store.GetAsync(id, ct);
        return row is null ? Error.NotFound("Agreement", id) : new AgreementDetail(AgreementStore.ToView(row), await store.VersionsAsync(id, ct));
    }

    /// <summary>Asks a trusted peer for an agreement: recorded proposed first, then proposed to the peer.</summary>
    public async Task<Result<AgreementView>> RequestAsync(Caller caller, AgreementRequest request, CancellationToken ct)
    {
        if (RequireAdmin(caller) is { } denied)
        {
            return denied;
        }
        if (Credentials is null)
        {
            return Error.InvalidState("Federation is off on this cloud: there is no peer to ask.");
        }
        if (request.Peer is not { Length: > 0 and <= 300 })
        {
            return Error.Validation("peer", "peer must name a trusted peer cloud (federation name or XMPP address)");
        }
        if (AgreementEvaluation.Validate(request.Terms) is { } invalid)
        {
            return invalid;
        }
        var found = await peers.FindAsync(request.Peer, ct);
        if (!found.IsSuccess || found.Value.Trust != PeerTrustState.Trusted || found.Value.Fingerprint is null || found.Value.Url is null || found.Value.Name is null)
        {
            return new Error("peer-not-trusted", ErrorKind.Conflict,
                $"'{request.Peer}' is not a trusted peer of this cloud: agreements are asked of peers whose signed presence was verified.");
        }
        var peer = found.Value;
        var now = store.Now();
        var id = store.NewId();
        var row = new AgreementRow(id, WireNames.Of(AgreementSide.Consumer), peer.Name, peer.Address, peer.Url, peer.Fingerprint, null, id, null, null,
            AgreementStore.Proposed, AgreementStore.Serialize(request.Terms), null, null, null, null, null, null, null, 1, now, now);
        var inserted = await db.WriteAsync<bool>(async tx => await store.InsertAsync(tx, caller, row, AgreementStore.Actions.Propose, null), ct);
        if (!inserted.IsSuccess)
        {
            return inserted.Error!;
        }
        var sent = await SendProposalAsync(row, ct);
        return sent.IsSuccess ? AgreementStore.ToView(sent.Value) : sent.Error!;
    }

    /// <summary>Sends every proposal still unanswered again (at start-up and periodically); each keeps its proposal id.</summary>
    public async Task RetryProposedAsync(CancellationToken ct)
    {
        if (Credentials is null)
        {
            return;
        }
        var known = (await peers.ListAsync(ct)).Where(p => p.Trust == PeerTrustState.Trusted && p.Fingerprint is not null && p.Url is not null)
            .ToDictionary(p => p.Fingerprint!, StringComparer.Ordinal);
        foreach (var row in await store.InStateAsync(AgreementStore.Proposed, ct))
        {
            // Sent only while the peer is trusted, at the URL its latest presence gave.
            if (row.ParsedSide == AgreementSide.Consumer && known.TryGetValue(row.PeerFingerprint, out var peer))
            {
                var sent = await SendProposalAsync(row with { PeerUrl = peer.Url }, ct);
                if (!sent.IsSuccess && sent.Error!.Kind == ErrorKind.Unavailable)
                {
                    logger.LogInformation("Agreement {Id} with {Peer} still unanswered: {Detail}", row.Id, row.PeerName, sent.Error.Detail);
                }
            }
        }
    }

    private async Task<Result<AgreementRow>> SendProposalAsync(AgreementRow row, CancellationToken ct)
    {
        var call = await CallPeerAsync(row, HttpMethod.Post, "federation/v1/agreements", new AgreementProposal(row.Id, row.ParsedTerms), ct);
        if (!call.IsSuccess)
        {
            return call.Error!;
        }
        var (response, certificate) = call.Value;
        using (response)
        {
            if (response.IsSuccessStatusCode)
            {
                if (await ReadAnswerAsync<AgreementAcceptance>(response, ct) is not { AgreementId: not null, AccountId: not null, Credential: not null } accepted)
                {
                    return Unreachable(row.PeerName, "its answer could not be read", resent: true);
                }
                return await SettleAsync(row, r => r with
                {
                    State = AgreementStore.Active, RemoteId = accepted.AgreementId, RemoteVersion = accepted.Version, AccountId = accepted.AccountId,
                    ContractIds = AgreementStore.Serialize(accepted.ContractIds), Credential = accepted.Credential, ApiUrl = accepted.ApiUrl, PeerCertificate = certificate,
                    PeerUrl = row.PeerUrl,
                }, AgreementStore.Actions.Accept, null, ct);
            }
            var problem = await ReadProblemAsync(response, ct);
            if ((int)response.StatusCode >= 500)
            {
                return Unreachable(row.PeerName, $"it answered {(int)response.StatusCode}", resent: true);
            }
            var reasons = problem.Reasons is { Count: > 0 } r ? r : [problem.Detail ?? $"The peer answered {(int)response.StatusCode}."];
            var refused = await SettleAsync(row, x => x with { State = AgreementStore.Refused, Reasons = AgreementStore.Serialize(reasons), PeerCertificate = certificate, PeerUrl = row.PeerUrl },
                AgreementStore.Actions.Refuse, string.Join(" ", reasons), ct);
            return refused.IsSuccess ? AgreementProvider.Refused(reasons) : refused.Error!;
        }
    }

    private async Task<Result<AgreementRow>> SettleAsync(AgreementRow row, Func<AgreementRow, AgreementRow> change, string action, string? reason, CancellationToken ct) =>
        RefreshPools(await db.WriteAsync<AgreementRow>(async tx =>
        {
            var current = await AgreementStore.GetAsync(tx, row.Id);
            if (current is null || current.State != AgreementStore.Proposed)
            {
                // Another attempt settled it first; its outcome stands.
                return current is null ? Error.NotFound("Agreement", row.Id) : current;
            }
            return await store.TransitionAsync(tx, Federation, current, change(current), action, reason) is { } done ? done : Error.Concurrency("Agreement", row.Id);
        }, ct));

    /// <summary>An agreement this cloud consumes changed: the pools served by that peer read their status again at once.</summary>
    private Result<AgreementRow> RefreshPools(Result<AgreementRow> changed)
    {
        if (changed.IsSuccess && changed.Value.ParsedSide == AgreementSide.Consumer && services.GetService<ComputeFabric>() is { } fabric)
        {
            foreach (var pool in fabric.Pools.Select(p => p.Driver).OfType<IPeerPool>().Where(p => p.Peer == changed.Value.PeerName))
            {
                pool.Refresh();
            }
        }
        return changed;
    }

    /// <summary>Changes an agreement's terms; as consumer, the provider re-evaluates them first.</summary>
    public async Task<Result<AgreementView>> AmendAsync(Caller caller, string id, AgreementAmendment amendment, CancellationToken ct)
    {
        if (RequireAdmin(caller) is { } denied)
        {
            return denied;
        }
        if (AgreementEvaluation.Validate(amendment.Terms) is { } invalid)
        {
            return invalid;
        }
        if (!Ids.IsValid(id, Ids.Agreement))
        {
            return Error.InvalidId(id, "agreement");
        }
        var row = await store.GetAsync(id, ct);
        if (row is null)
        {
            return Error.NotFound("Agreement", id);
        }
        if (row.ParsedSide == AgreementSide.Provider)
        {
            return Error.InvalidState($"Agreement '{id}' is one this cloud provides: its terms are changed by the consumer, who asks for an amendment.");
        }
        if (!row.InForce)
        {
            return Error.InvalidState($"Agreement '{id}' is {row.State}; only an agreement in force can be amended.");
        }
        if (amendment.Version != row.Version)
        {
            return Error.VersionMismatch("Agreement", id, amendment.Version, row.Version);
        }
        var call = await CallPeerAsync(row, HttpMethod.Put, "federation/v1/agreements/" + Uri.EscapeDataString(row.RemoteId!),
            new AgreementAmendProposal(amendment.Terms, row.RemoteVersion ?? 0), ct);
        if (!call.IsSuccess)
        {
            return call.Error!;
        }
        using var response = call.Value.Response;
        if (!response.IsSuccessStatusCode)
        {
            var problem = await ReadProblemAsync(response, ct);
            return (int)response.StatusCode >= 500 ? Unreachable(row.PeerName, $"it answered {(int)response.StatusCode}", resent: true)
                : problem.Reasons is { Count: > 0 } reasons ? AgreementProvider.Refused(reasons)
                : new Error("peer-refused", ErrorKind.Conflict, $"Peer '{row.PeerName}' did not amend the agreement: {problem.Detail}");
        }
        if (await ReadAnswerAsync<AgreementAmendAnswer>(response, ct) is not { ContractIds: not null } answer)
        {
            return Unreachable(row.PeerName, "its answer could not be read", resent: true);
        }
        var result = await db.WriteAsync<AgreementRow>(async tx =>
        {
            var current = await AgreementStore.GetAsync(tx, id);
            var amended = current! with
            {
                State = AgreementStore.Amended, Terms = AgreementStore.Serialize(amendment.Terms), RemoteVersion = answer.Version,
                ContractIds = AgreementStore.Serialize(answer.ContractIds),
            };
            return await store.TransitionAsync(tx, caller, current, amended, AgreementStore.Actions.Amend, null) is { } done ? done : Error.Concurrency("Agreement", id);
        }, ct);
        return RefreshPools(result).Map(AgreementStore.ToView);
    }

    /// <summary>Ends an agreement from this side: the other side is told; if it cannot be reached, this side ends anyway and says so.</summary>
    public async Task<Result<AgreementView>> TerminateAsync(Caller caller, string id, AgreementTermination request, CancellationToken ct)
    {
        if (RequireAdmin(caller) is { } denied)
        {
            return denied;
        }
        if (request.Reason is not { Length: > 0 and <= 500 })
        {
            return Error.Validation("reason", "reason must be 1-500 characters");
        }
        if (!Ids.IsValid(id, Ids.Agreement))
        {
            return Error.InvalidId(id, "agreement");
        }
        var row = await store.GetAsync(id, ct);
        if (row is null)
        {
            return Error.NotFound("Agreement", id);
        }
        if (row.State == AgreementStore.Terminated)
        {
            return AgreementStore.ToView(row);
        }
        if (!row.InForce)
        {
            return Error.InvalidState($"Agreement '{id}' is {row.State}; only an agreement in force can be terminated.");
        }
        // The peer is told first, so that its side ends with the reason given here; this side ends whatever it answers.
        var provided = row.ParsedSide == AgreementSide.Provider;
        var told = await NotifyAsync(row, provided ? row.ProposalId! : row.RemoteId!, request.Reason, ct);
        var reason = told ? request.Reason : request.Reason + $" (peer '{row.PeerName}' could not be told; terminated here only)";
        var ended = provided ? await provider.TerminateAsync(caller, id, null, reason, ct) : await EndConsumerAsync(caller, id, null, reason, ct);
        return ended.Map(AgreementStore.ToView);
    }

    /// <summary>
    /// The provider's usage report (this month so far) and invoices (the latest issued ones and the current
    /// period's preview) for an agreement this cloud consumes, read through the provider's ordinary API on
    /// its listener with the agreement's credential, exactly as any consumer reads its own.
    /// </summary>
    public async Task<Result<AgreementUsage>> UsageAsync(Caller caller, string id, CancellationToken ct)
    {
        if (RequireAdmin(caller) is { } denied)
        {
            return denied;
        }
        if (!Ids.IsValid(id, Ids.Agreement))
        {
            return Error.InvalidId(id, "agreement");
        }
        var row = await store.GetAsync(id, ct);
        if (row is null)
        {
            return Error.NotFound("Agreement", id);
        }
        if (row.ParsedSide != AgreementSide.Consumer || !row.InForce || row.Credential is null || row.ApiUrl is null || row.AccountId is null)
        {
            return Error.InvalidState($"Agreement '{id}' is {row.State} on the {row.Side} side; usage is read from the provider of an agreement in force this cloud consumes.");
        }
        return await CallPeerAsync(row, "show the agreement's usage", async (client, _) =>
        {
            var usage = await client.Usage.AccountAsync(row.AccountId, ct: ct);
            var invoices = new List<InvoiceView>();
            foreach (var summary in (await client.Billing.ListAsync(row.AccountId, limit: MaxInvoices, ct: ct)).Items)
            {
                invoices.Add(await client.Billing.GetAsync(summary.Id, ct));
            }
            invoices.Add(await client.Billing.PreviewAsync(row.AccountId, ct: ct));
            return new AgreementUsage(row.Id, new AgreementPeer(row.PeerName, row.PeerAddress, row.PeerUrl, row.PeerFingerprint), usage, invoices);
        }, ct);
    }

    /// <summary>
    /// What the provider of an agreement in force this cloud consumes charges it for a billing period:
    /// its issued invoice of the period, or its preview while it has issued none.
    /// </summary>
    public async Task<Result<PeerCharges>> ChargesAsync(AgreementRow row, BillingPeriod period, CancellationToken ct)
    {
        if (row.ParsedSide != AgreementSide.Consumer || !row.InForce || row.Credential is null || row.ApiUrl is null || row.AccountId is null)
        {
            return Error.InvalidState($"Agreement '{row.Id}' is {row.State} on the {row.Side} side; charges are read from the provider of an agreement in force this cloud consumes.");
        }
        var name = period.ToString();
        return await CallPeerAsync(row, "show the agreement's charges", async (client, _) =>
        {
            var issued = (await client.Billing.ListAsync(row.AccountId, limit: MaxInvoices, ct: ct)).Items.FirstOrDefault(i => i.Period == name);
            var invoice = issued is null ? await client.Billing.PreviewAsync(row.AccountId, name, ct) : await client.Billing.GetAsync(issued.Id, ct);
            return new PeerCharges(invoice.Number ?? invoice.Id, issued is not null, invoice.Totals);
        }, ct);
    }

    /// <summary>
    /// Calls the provider of an agreement in force this cloud consumes through its ordinary API on its
    /// listener, with the agreement's credential and this cloud's federation certificate; the peer's
    /// refusals and failures become errors naming <paramref name="what"/> was asked.
    /// </summary>
    public async Task<Result<T>> CallPeerAsync<T>(AgreementRow row, string what, Func<Welkin.Client.WelkinClient, HttpClient, Task<T>> call, CancellationToken ct)
    {
        if (Credentials is not { } credentials || row.Credential is null || !Uri.TryCreate(row.ApiUrl, UriKind.Absolute, out var api))
        {
            return Unreachable(row.PeerName, "its API URL is not usable");
        }
        using var http = new HttpClient(PinnedHandler(credentials, row.PeerFingerprint)) { Timeout = CallTimeout };
        using var client = new Welkin.Client.WelkinClient(http, api, row.Credential);
        try
        {
            return await call(client, http);
        }
        catch (Welkin.Client.WelkinApiException exception)
        {
            return new Error("peer-refused", ErrorKind.Conflict,
                $"Peer '{row.PeerName}' refused to {what} ({exception.Problem.Status} {exception.Problem.Code}).") { Cause = exception.Message };
        }
        catch (Welkin.Client.WelkinProtocolException exception)
        {
            return Unreachable(row.PeerName, "its answer could not be read") with { Cause = exception.Message };
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return Unreachable(row.PeerName, "the call failed") with { Cause = exception.Message };
        }
    }

    /// <summary>The other side ended an agreement (its notice on the federation listener); only that peer's certificate may.</summary>
    public async Task<Result<AgreementRow>> PeerTerminatedAsync(string fingerprint, string id, AgreementTerminationNotice notice, CancellationToken ct)
    {
        var row = Ids.IsValid(id, Ids.Agreement) ? await store.GetAsync(id, ct) : null;
        if (row is null || row.PeerFingerprint != fingerprint)
        {
            return Error.NotFound("Agreement", id);
        }
        var reason = "ended by the peer: " + (notice.Reason is { Length: > 0 } r ? r[..Math.Min(r.Length, 500)] : "no reason given");
        return row.ParsedSide == AgreementSide.Provider
            ? await provider.TerminateAsync(Federation, id, fingerprint, reason, ct)
            : await EndConsumerAsync(Federation, id, fingerprint, reason, ct);
    }

    /// <summary>
    /// Trust in a peer ended (its certificate revoked, the provider admin's distrust): every agreement in
    /// force with it ends here, without asking it. Returns how many ended.
    /// </summary>
    public async Task<int> TerminateUntrustedAsync(string? peerName, string? fingerprint, string reason, CancellationToken ct)
    {
        var ended = 0;
        foreach (var row in await store.InForceAsync(peerName, fingerprint, ct))
        {
            var result = row.ParsedSide == AgreementSide.Provider
                ? await provider.TerminateAsync(Federation, row.Id, null, reason, ct)
                : await EndConsumerAsync(Federation, row.Id, null, reason, ct);
            ended += result.IsSuccess ? 1 : 0;
        }
        if (ended > 0)
        {
            logger.LogWarning("Trust in peer {Peer} ended ({Reason}): {Count} agreement(s) terminated", peerName ?? fingerprint, reason, ended);
        }
        return ended;
    }

    /// <summary>
    /// The periodic check: every agreement in force whose peer certificate the CRL in force now revokes
    /// (or that no longer verifies), or whose peer is no longer trusted here, is terminated.
    /// </summary>
    public async Task CheckTrustAsync(CancellationToken ct)
    {
        if (Credentials is not { } credentials)
        {
            return;
        }
        var known = (await peers.ListAsync(ct)).Where(p => p.Fingerprint is not null).ToLookup(p => p.Fingerprint!, StringComparer.Ordinal);
        // When this cloud's own certificate is revoked, no peer trusts it any more: its agreements are over too.
        var own = credentials.Verifier.VerifyCertificate(credentials.Certificate);
        foreach (var row in await store.InForceAsync(null, null, ct))
        {
            string? why = own.IsTrusted ? null : $"this cloud's own federation certificate is no longer trusted: {own.Reason}";
            if (why is null && row.PeerCertificate is { Length: > 0 } pem)
            {
                using var certificate = X509Certificate2.CreateFromPem(pem);
                var verdict = credentials.Verifier.VerifyCertificate(certificate);
                why = verdict.IsTrusted ? null : $"the peer's certificate is no longer trusted: {verdict.Reason}";
            }
            if (why is null && known[row.PeerFingerprint].FirstOrDefault(p => p.Trust != PeerTrustState.Trusted && p.Trust != PeerTrustState.Unverified) is { } peer)
            {
                why = $"the peer is no longer trusted: {peer.Reason}";
            }
            if (why is not null)
            {
                await TerminateUntrustedAsync(null, row.PeerFingerprint, why, ct);
            }
        }
    }

    private async Task<Result<AgreementRow>> EndConsumerAsync(Caller caller, string id, string? fingerprint, string reason, CancellationToken ct) =>
        RefreshPools(await db.WriteAsync<AgreementRow>(async tx =>
        {
            var row = await AgreementStore.GetAsync(tx, id);
            if (row is null || row.ParsedSide != AgreementSide.Consumer || (fingerprint is not null && row.PeerFingerprint != fingerprint))
            {
                return Error.NotFound("Agreement", id);
            }
            if (row.State == AgreementStore.Terminated)
            {
                return row;
            }
            // The credential is useless from now on; it is not kept.
            var ended = row with { State = AgreementStore.Terminated, TerminationReason = reason, Credential = null };
            return await store.TransitionAsync(tx, caller, row, ended, AgreementStore.Actions.Terminate, reason) is { } done ? done : Error.Concurrency("Agreement", id);
        }, ct));

    /// <summary>Tells the other side an agreement ended; false when it could not be told.</summary>
    private async Task<bool> NotifyAsync(AgreementRow row, string remoteId, string reason, CancellationToken ct)
    {
        var call = await CallPeerAsync(row, HttpMethod.Post, $"federation/v1/agreements/{Uri.EscapeDataString(remoteId)}/terminate", new AgreementTerminationNotice(reason), ct);
        if (!call.IsSuccess)
        {
            return false;
        }
        using var response = call.Value.Response;
        return response.IsSuccessStatusCode || response.StatusCode == HttpStatusCode.NotFound;
    }

    /// <summary>
    /// One call to the peer's listener over mutual TLS. The peer must present the certificate this cloud
    /// recorded for it (the same fingerprint), so an agreement is never settled with another cloud.
    /// Returns the answer and the peer's certificate (PEM).
    /// </summary>
    private async Task<Result<(HttpResponseMessage Response, string? Certificate)>> CallPeerAsync(
        AgreementRow row, HttpMethod method, string path, object body, CancellationToken ct)
    {
        if (Credentials is not { } credentials)
        {
            return Error.InvalidState("Federation is off on this cloud.");
        }
        if (row.PeerUrl is null || !Uri.TryCreate(row.PeerUrl, UriKind.Absolute, out var url))
        {
            return Unreachable(row.PeerName, "its URL is not known");
        }
        string? seen = null;
        var handler = credentials.CreatePeerHandler();
        var check = handler.SslOptions.RemoteCertificateValidationCallback!;
        handler.SslOptions.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
        {
            if (certificate is not X509Certificate2 peer || !check(sender, certificate, chain, errors)
                || CloudPresence.FingerprintOf(peer.RawData) != row.PeerFingerprint)
            {
                return false;
            }
            seen = peer.ExportCertificatePem();
            return true;
        };
        using var http = new HttpClient(handler) { Timeout = CallTimeout };
        try
        {
            using var request = new HttpRequestMessage(method, new Uri(new Uri(url.GetLeftPart(UriPartial.Authority) + "/"), path))
            {
                Content = JsonContent.Create(body, options: WelkinJson.Client),
            };
            var response = await http.SendAsync(request, ct);
            await response.Content.LoadIntoBufferAsync(ct);
            return (response, seen);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            return Unreachable(row.PeerName, "the call failed") with { Cause = exception.Message };
        }
    }

    /// <summary>
    /// A handler presenting this cloud's federation certificate that accepts only the agreement's peer:
    /// a valid federation certificate of another cloud (at a URL that changed hands) is refused, so the
    /// agreement's credential goes to no one else.
    /// </summary>
    public static SocketsHttpHandler PinnedHandler(FederationCredentials credentials, string fingerprint)
    {
        var handler = credentials.CreatePeerHandler();
        var check = handler.SslOptions.RemoteCertificateValidationCallback!;
        handler.SslOptions.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
            certificate is X509Certificate2 peer && check(sender, certificate, chain, errors) && CloudPresence.FingerprintOf(peer.RawData) == fingerprint;
        return handler;
    }

    /// <param name="resent">Said of a proposal or an amendment, which stays as it is and is sent again.</param>
    private static Error Unreachable(string peer, string why, bool resent = false) => new("peer-unreachable", ErrorKind.Unavailable,
        $"Peer '{peer}' could not be reached over the federation listener ({why})" + (resent ? "; a proposal stays proposed and is sent again." : "; try again later."))
    { RetryAfter = TimeSpan.FromSeconds(30) };

    private static async Task<T?> ReadAnswerAsync<T>(HttpResponseMessage response, CancellationToken ct)
        where T : class
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<T>(WelkinJson.Client, ct);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task<PeerProblem> ReadProblemAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            return await response.Content.ReadFromJsonAsync<PeerProblem>(WelkinJson.Client, ct) ?? new PeerProblem(null, null, null);
        }
        catch (JsonException)
        {
            return new PeerProblem(null, null, null);
        }
    }

    private sealed record PeerProblem(string? Code, string? Detail, IReadOnlyList<string>? Reasons);
}
