using System.Text.Json;
using Welkin.Contracts;
using Welkin.Core.Accounts;
using Welkin.Core.Audit;
using Welkin.Core.Catalog;
using Welkin.Core.Common;
using Welkin.Core.Contracts;
using Welkin.Core.Data;
using Welkin.Core.Jobs;
using Welkin.Core.Security;

namespace Welkin.Core.Federation;

/// <summary>
/// The provider's side of federation agreements: a peer's proposal evaluated against the federation
/// policy and either refused (recorded, with every reason) or accepted in one transaction — an account
/// whose limits are the entitlement, the peer's cloud principal and its certificate-bound credential,
/// an active contract on the offerings placed in the agreed jurisdictions, and the agreement itself.
/// </summary>
public sealed class AgreementProvider(
    IDatabase db, AgreementStore store, PeerStore peers, AuditLog auditLog, SecurityManager security, AccountService accounts, ContractService contracts, JobQueue jobs,
    CapacitySummary capacity, TimeProvider clock)
{
    public const string RefusedCode = "agreement-refused";
    public const int MaxProposalId = 100;

    private static readonly Caller Federation = Caller.System("federation");

    /// <summary>
    /// Answers a peer's proposal. <paramref name="peer"/> is the calling cloud as its verified certificate
    /// names it; a retry of the same proposal id from the same certificate answers what the first did.
    /// </summary>
    public async Task<Result<AgreementAcceptance>> ProposeAsync(
        AgreementPeer peer, string certificatePem, AgreementProposal proposal, string apiUrl, CancellationToken ct)
    {
        if (proposal.ProposalId is not { Length: > 0 and <= MaxProposalId })
        {
            return Error.Validation("proposalId", $"proposalId must be 1-{MaxProposalId} characters");
        }
        if (AgreementEvaluation.Validate(proposal.Terms) is { } invalid)
        {
            return invalid;
        }
        if (await UntrustedAsync(peer.Fingerprint, ct) is { } untrusted)
        {
            return untrusted;
        }
        var free = await capacity.ComputeAsync(ct);
        var policy = await store.GetPolicyAsync(ct);
        var result = await db.WriteAsync<AgreementRow>(async tx =>
        {
            if (await AgreementStore.FindProposalAsync(tx, AgreementSide.Provider, peer.Fingerprint, proposal.ProposalId) is { } earlier)
            {
                return earlier;
            }
            var verdict = AgreementEvaluation.Evaluate(policy, peer.Name, proposal.Terms, await OfferingsAsync(tx, proposal.Terms), free);
            var now = store.Now();
            var row = new AgreementRow(store.NewId(), WireNames.Of(AgreementSide.Provider), peer.Name, peer.Address, peer.Url, peer.Fingerprint, certificatePem,
                proposal.ProposalId, null, null, AgreementStore.Refused, AgreementStore.Serialize(proposal.Terms), null, null, null, null, null, null, null, 1, now, now);
            if (!verdict.Accepted)
            {
                row = row with { Reasons = AgreementStore.Serialize(verdict.Reasons) };
                return await store.InsertAsync(tx, Federation, row, AgreementStore.Actions.Refuse, string.Join(" ", verdict.Reasons))
                    ? row : Error.Concurrency("Agreement", proposal.ProposalId);
            }
            return await AcceptInTxAsync(tx, row, proposal.Terms, verdict, apiUrl);
        }, ct);
        if (!result.IsSuccess)
        {
            return result.Error!;
        }
        var agreement = result.Value;
        return agreement.State == AgreementStore.Refused ? Refusal(agreement) : Acceptance(agreement);
    }

    private async Task<Result<AgreementRow>> AcceptInTxAsync(Tx tx, AgreementRow row, AgreementTerms terms, AgreementVerdict verdict, string apiUrl)
    {
        var now = store.Now();
        var account = new AccountRow(Ids.New(Ids.Account, clock), AccountName(row.PeerName, row.Id), $"Federation peer {row.PeerName}", AccountStore.Active,
            JsonSerializer.Serialize(new SortedDictionary<string, long>(terms.Entitlement.Units.ToDictionary(), StringComparer.Ordinal)), 1, now, now);
        if (!await AccountStore.InsertAsync(tx, account))
        {
            return Error.Concurrency("Account", account.Name);
        }
        await Audit(tx, "account.create", account.Id, account.Id, $"name={account.Name}; federation agreement {row.Id} with {row.PeerName}");
        var credential = await security.IssueCloudCredentialAsync(tx, Federation, account.Id, row.PeerName, row.PeerFingerprint, null);
        if (!credential.IsSuccess)
        {
            return credential.Error!;
        }
        var contract = await contracts.OpenInTxAsync(tx, Federation, account.Id, ContractOf(row, terms, verdict), active: true);
        if (!contract.IsSuccess)
        {
            return contract.Error!;
        }
        var accepted = row with
        {
            State = AgreementStore.Active, AccountId = account.Id, ContractIds = AgreementStore.Serialize(new[] { contract.Value.Id }),
            TokenId = credential.Value.Token.Id, Credential = credential.Value.Token.Secret, ApiUrl = apiUrl,
        };
        return await store.InsertAsync(tx, Federation, accepted, AgreementStore.Actions.Accept, null) ? accepted : Error.Concurrency("Agreement", row.Id);
    }

    /// <summary>Amends an agreement in force with new terms, re-evaluated: the account's limits and the contract follow.</summary>
    public async Task<Result<AgreementAmendAnswer>> AmendAsync(string fingerprint, string id, AgreementAmendProposal amendment, CancellationToken ct)
    {
        if (AgreementEvaluation.Validate(amendment.Terms) is { } invalid)
        {
            return invalid;
        }
        if (await UntrustedAsync(fingerprint, ct) is { } untrusted)
        {
            return untrusted;
        }
        var free = await capacity.ComputeAsync(ct);
        var policy = await store.GetPolicyAsync(ct);
        var result = await db.WriteAsync<AgreementRow>(async tx =>
        {
            var row = await AgreementStore.GetAsync(tx, id);
            if (row is null || row.ParsedSide != AgreementSide.Provider || row.PeerFingerprint != fingerprint)
            {
                return Error.NotFound("Agreement", id);
            }
            if (!row.InForce)
            {
                return Error.InvalidState($"Agreement '{id}' is {row.State}; only an agreement in force can be amended.");
            }
            if (amendment.Version != row.Version)
            {
                return Error.VersionMismatch("Agreement", id, amendment.Version, row.Version);
            }
            var verdict = AgreementEvaluation.Evaluate(policy, row.PeerName, amendment.Terms, await OfferingsAsync(tx, amendment.Terms), free);
            if (!verdict.Accepted)
            {
                return Refused(verdict.Reasons);
            }
            if (await ChangeAccountAsync(tx, row, amendment.Terms, verdict) is { } failed)
            {
                return failed;
            }
            var amended = row with { State = AgreementStore.Amended, Terms = AgreementStore.Serialize(amendment.Terms) };
            return await store.TransitionAsync(tx, Federation, row, amended, AgreementStore.Actions.Amend, null) is { } done ? done : Error.Concurrency("Agreement", id);
        }, ct);
        return result.Map(r => new AgreementAmendAnswer(r.Id, r.Version, WireNames.Parse<AgreementState>(r.State), r.ParsedContractIds));
    }

    private async Task<Error?> ChangeAccountAsync(Tx tx, AgreementRow row, AgreementTerms terms, AgreementVerdict verdict)
    {
        var account = await AccountStore.GetAsync(tx, row.AccountId!);
        if (account is null)
        {
            return Error.NotFound("Account", row.AccountId!);
        }
        var old = Quotas.ParseLimits(account.Limits);
        var wanted = terms.Entitlement.Units;
        // Raised first (so the contract can grow), lowered last (so it has shrunk by then).
        var widest = old.Keys.Union(wanted.Keys).ToDictionary(u => u, u => Math.Max(Quotas.LimitOf(old, u), wanted.TryGetValue(u, out var w) ? w : 0), StringComparer.Ordinal);
        await Quotas.LockAccountAsync(tx, account.Id, widest.Keys);
        var raised = await accounts.ApplyLimitsAsync(tx, Federation, account, widest, "account.limits", $"; federation agreement {row.Id} amended");
        if (!raised.IsSuccess)
        {
            return raised.Error;
        }
        var request = ContractOf(row, terms, verdict);
        var amended = await contracts.AmendInTxAsync(tx, Federation, row.ParsedContractIds[0],
            new ContractAmendmentRequest(request.Items, Reason: $"federation agreement {row.Id} amended"));
        if (!amended.IsSuccess)
        {
            return amended.Error;
        }
        var current = await AccountStore.GetAsync(tx, account.Id);
        var final = new SortedDictionary<string, long>(wanted.ToDictionary(), StringComparer.Ordinal);
        var lowered = await accounts.ApplyLimitsAsync(tx, Federation, current!, final, "account.limits", $"; federation agreement {row.Id} amended");
        return lowered.IsSuccess ? null : lowered.Error;
    }

    /// <summary>
    /// Ends an agreement this cloud provides (the peer asked, the provider admin did, or trust ended): the
    /// credential is revoked and the principal disabled, the contract terminated the normal way.
    /// <paramref name="fingerprint"/> (when given) must be the agreement's peer's.
    /// </summary>
    public async Task<Result<AgreementRow>> TerminateAsync(Caller caller, string id, string? fingerprint, string reason, CancellationToken ct)
    {
        var result = await db.WriteAsync<AgreementRow>(async tx =>
        {
            var row = await AgreementStore.GetAsync(tx, id);
            if (row is null || row.ParsedSide != AgreementSide.Provider || (fingerprint is not null && row.PeerFingerprint != fingerprint))
            {
                return Error.NotFound("Agreement", id);
            }
            if (row.State == AgreementStore.Terminated)
            {
                return row;
            }
            if (!row.InForce)
            {
                return Error.InvalidState($"Agreement '{id}' is {row.State}; only an agreement in force can be terminated.");
            }
            return await TerminateInTxAsync(tx, caller, row, reason);
        }, ct);
        if (result.IsSuccess)
        {
            jobs.Wake();
        }
        return result;
    }

    internal async Task<Result<AgreementRow>> TerminateInTxAsync(Tx tx, Caller caller, AgreementRow row, string reason)
    {
        if (row.AccountId is { } accountId)
        {
            var revoked = await security.CloseAccountPrincipalsAsync(tx, accountId);
            await Audit(tx, "token.revoke", row.TokenId ?? accountId, accountId, $"federation agreement {row.Id} terminated; {revoked} credential(s) revoked");
        }
        foreach (var contractId in row.ParsedContractIds)
        {
            var contract = await ContractStore.GetAsync(tx, contractId);
            if (contract is not null && (contract.State == ContractStore.Active || contract.State == ContractStore.Proposed)
                && await contracts.BeginTerminationAsync(tx, Federation, contract, "federation agreement terminated: " + reason, null) is null)
            {
                return Error.Concurrency("Contract", contractId);
            }
        }
        var ended = row with { State = AgreementStore.Terminated, TerminationReason = reason, Credential = null };
        return await store.TransitionAsync(tx, caller, row, ended, AgreementStore.Actions.Terminate, reason) is { } done ? done : Error.Concurrency("Agreement", row.Id);
    }

    /// <summary>
    /// A peer this cloud knows and no longer trusts (a refused presence, the provider admin's distrust) gets
    /// nothing, though its certificate still verifies; a peer not heard of yet is judged by its certificate alone.
    /// </summary>
    private async Task<Error?> UntrustedAsync(string fingerprint, CancellationToken ct)
    {
        var known = (await peers.ListAsync(ct)).FirstOrDefault(p => p.Fingerprint == fingerprint && p.Trust is not (PeerTrustState.Trusted or PeerTrustState.Unverified));
        return known is null ? null : new Error("peer-not-trusted", ErrorKind.Forbidden, $"This cloud does not trust peer '{known.Name ?? known.Address}': {known.Reason}");
    }

    /// <summary>The problem a refusal answers: 422 with every reason.</summary>
    public static Error Refused(IReadOnlyList<string> reasons) =>
        new(RefusedCode, ErrorKind.Unprocessable, "The provider's federation policy refused the agreement: " + string.Join(" ", reasons)) { Reasons = reasons };

    private static Error Refusal(AgreementRow row) => Refused(row.Reasons is null ? [] : AgreementStore.Parse<List<string>>(row.Reasons) ?? []);

    private static AgreementAcceptance Acceptance(AgreementRow row) => new(
        row.Id, row.Version, WireNames.Parse<AgreementState>(row.State), row.AccountId!, row.ParsedContractIds, row.Credential ?? "", null, row.ApiUrl ?? "");

    private static ContractRequest ContractOf(AgreementRow row, AgreementTerms terms, AgreementVerdict verdict) => new(
        terms.Entitlement.Offerings.Select(o => new ContractItemRequest(o.OfferingId, o.Quantity)).ToList(),
        Name: $"federation agreement {row.Id}",
        Constraints: new PlacementConstraints(Jurisdictions: verdict.Jurisdictions));

    /// <summary>The requested offerings as the catalog has them, with the largest machine a unit of each may be.</summary>
    private static async Task<IReadOnlyDictionary<string, RequestedOffering>> OfferingsAsync(Tx tx, AgreementTerms terms)
    {
        var found = new Dictionary<string, RequestedOffering>(StringComparer.Ordinal);
        foreach (var id in terms.Entitlement.Offerings.Select(o => o.OfferingId).Distinct(StringComparer.Ordinal))
        {
            if (await OfferingService.FindAsync(tx, id) is not { } offering)
            {
                continue;
            }
            var template = offering.Spec.TemplateId is { } t && offering.Spec.TemplateVersion is { } v ? await TemplateService.FindVersionAsync(tx, t, v) : null;
            var vcpus = template?.Spec.VirtualSystems
                .Select(vs => offering.Spec.Choices?.FirstOrDefault(c => c.VirtualSystem == vs.Name)?.Vcpus?.Allowed.Max() ?? vs.Hardware.Vcpus.Allowed.Max())
                .DefaultIfEmpty(0).Max() ?? 0;
            found[id] = new RequestedOffering(id, offering.State == WireNames.Of(OfferingState.Published), offering.Spec, vcpus);
        }
        return found;
    }

    private static string AccountName(string peer, string agreementId)
    {
        var cleaned = new string(peer.ToLowerInvariant().Select(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) ? c : '-').ToArray()).Trim('-');
        var stem = cleaned.Length == 0 || !char.IsAsciiLetterLower(cleaned[0]) ? "peer" : cleaned;
        return $"{stem[..Math.Min(stem.Length, 30)]}-{agreementId[^10..]}";
    }

    private Task Audit(Tx tx, string action, string target, string accountId, string detail) =>
        auditLog.AppendAsync(tx, Federation, new AuditEvent(action, target, AuditEvent.Success, accountId, detail));
}
