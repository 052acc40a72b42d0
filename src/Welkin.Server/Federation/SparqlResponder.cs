using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Core.Catalog.Description;
using Welkin.Core.Federation;
using Welkin.Core.Security;
using Welkin.Intercloud.Federation;
using Welkin.Intercloud.Rdf;
using Welkin.Intercloud.Trust;
using Welkin.Intercloud.Xmpp;
using Welkin.Server.Infrastructure;

namespace Welkin.Server.Federation;

/// <summary>
/// Answers a peer's SPARQL query (an IQ get of <see cref="SparqlPayload"/>) over this cloud's catalog
/// description, through the same <see cref="CatalogQuery"/> as the HTTP endpoint. Only a peer that is
/// trusted and online, asking from the session whose signed presence was verified, is answered; each
/// peer has a budget of queries (QueryBurst at once, QueryRate a second) so that none keeps the engine
/// busy. An answer larger than a stanza may be is refused rather than sent, since the exchange would
/// end this cloud's stream for it.
/// </summary>
public sealed class SparqlResponder
{
    /// <summary>
    /// Prosody's default c2s_stanza_size_limit and this client's own reading limit are both 256 KiB; the
    /// envelope (iq, results wrapper, addresses) stays well within the margin kept here.
    /// </summary>
    public const int MaxAnswerBytes = 224 * 1024;

    private readonly FederationOptions _options;
    private readonly PeerStore _peers;
    private readonly CatalogQuery _queries;
    private readonly SenderBudget _budget;
    private readonly DescribedCloud _cloud;
    private readonly ILogger<SparqlResponder> _logger;

    public SparqlResponder(FederationOptions options, FederationCredentials credentials, PeerStore peers, CatalogQuery queries, TimeProvider clock, ILogger<SparqlResponder> logger)
    {
        _options = options;
        _peers = peers;
        _queries = queries;
        _logger = logger;
        _budget = new SenderBudget(options.QueryBurst, options.QueryRate, FederationService.FloodReportWindow, clock);
        // Peers reach this cloud at its federation URL, so that is the base of the description they query.
        _cloud = new DescribedCloud(options.Url!.TrimEnd('/'), options.Name, options.Url, credentials.Fingerprint);
    }

    /// <param name="verifiedSession">Whether the request comes from the peer session whose signed presence was accepted.</param>
    public async Task<XmppIqAnswer> AnswerAsync(XmppIqRequest request, bool verifiedSession, CancellationToken ct)
    {
        var from = XmppAddress.Bare(request.From);
        if (request.Type != "get")
        {
            return XmppIqAnswer.Error("cancel", "bad-request", "a SPARQL query is sent as an IQ get");
        }
        var peer = await _peers.FindAsync(from, ct);
        if (!verifiedSession || !peer.IsSuccess || !string.Equals(peer.Value.Address, from, StringComparison.OrdinalIgnoreCase) || peer.Value is not { Online: true, Trust: PeerTrustState.Trusted })
        {
            _logger.LogInformation("Federation: SPARQL query from {From} refused: not a trusted online peer", request.From);
            return XmppIqAnswer.Error("auth", "forbidden", "only trusted peers that are online are answered");
        }
        if (_budget.Take(from) != BudgetVerdict.Allowed)
        {
            return XmppIqAnswer.Error("wait", "resource-constraint",
                $"more than {_options.QueryBurst} queries at once or {_options.QueryRate:0.##} a second; ask again later")
                with { ApplicationCondition = SparqlPayload.Condition(SparqlPayload.BudgetCondition) };
        }
        var query = request.Payload.Value;
        if (query.Length > _queries.Limits.MaxQueryLength)
        {
            return EngineError(SparqlError.LimitCode, $"The query is longer than the limit of {_queries.Limits.MaxQueryLength} characters.");
        }
        var results = await _queries.RunAsync(Caller.Anonymous("federation:" + from), _cloud, query, ct);
        if (!results.IsSuccess)
        {
            var error = results.Error!;
            return error.Code.StartsWith("sparql-", StringComparison.Ordinal)
                ? EngineError(error.Code, error.Detail)
                : XmppIqAnswer.Error("cancel", "internal-server-error", "the catalog description could not be queried");
        }
        var answer = SparqlPayload.Results(results.Value);
        var bytes = SparqlPayload.Bytes(answer);
        if (bytes > MaxAnswerBytes)
        {
            return XmppIqAnswer.Error("modify", "not-acceptable",
                $"the answer ({bytes} bytes) is larger than the {MaxAnswerBytes} bytes a stanza may carry; narrow the query or add a LIMIT")
                with { ApplicationCondition = SparqlPayload.Condition(SparqlPayload.TooLargeCondition) };
        }
        return XmppIqAnswer.Result(answer);
    }

    private static XmppIqAnswer EngineError(string code, string text) =>
        XmppIqAnswer.Error("modify", "bad-request", text) with { ApplicationCondition = SparqlPayload.Condition(code) };
}
