using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Xml.Linq;
using Welkin.Contracts;
using Welkin.Intercloud.Federation;
using Welkin.Intercloud.Xmpp;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;
using static Welkin.Server.Tests.Federation.FederationClouds;

namespace Welkin.Server.Tests.Federation;

/// <summary>Three clouds ask each other for offerings and run SPARQL at each other over the exchange.</summary>
public sealed class FederatedSelectionTests(FederationClouds clouds) : IClassFixture<FederationClouds>
{
    // Bounds on waiting, generous for a loaded machine; none of them is a performance claim.
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    private const string Titles = """
        PREFIX wk: <https://welkin.dev/ns/cloud#>
        PREFIX dcterms: <http://purl.org/dc/terms/>
        PREFIX schema: <https://schema.org/>
        SELECT ?id ?title ?price WHERE { ?o a wk:Offering ; dcterms:identifier ?id ; dcterms:title ?title ; schema:priceSpecification ?r . ?r schema:price ?price } ORDER BY ?id ?price
        """;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Session(string user) => Address(user) + "/welkin";

    private async Task<bool> TrustsAsync(string at, string user) =>
        (await clouds.PeersAsync(at)).Peers.SingleOrDefault(p => p.Address == Address(user)) is { Online: true, Trust: PeerTrustState.Trusted };

    private Task PeersOnlineAsync(string at, params string[] users) =>
        Polling.UntilAsync(async () =>
        {
            foreach (var user in users)
            {
                if (!await TrustsAsync(at, user))
                {
                    return false;
                }
            }
            return true;
        }, $"{at} lists {string.Join(", ", users)} online and trusted", Patience, Poll);

    [Fact]
    public async Task Find_OnOneCloud_ShowsOfferingsPublishedOnAPeer_RankedByPriceThenAvailability()
    {
        await PeersOnlineAsync("us", "de", "cc");
        var prefix = CatalogApi.UniquePrefix("find");
        var cheap = await PublishAsync("de", prefix + "cheap", 4, 8192, "EUR", 0.12m, 99.9m);
        var better = await PublishAsync("de", prefix + "better", 8, 16384, "EUR", 0.12m, 99.99m);
        var dear = await PublishAsync("de", prefix + "dear", 4, 8192, "EUR", 0.25m, 99.99m);
        var small = await PublishAsync("de", prefix + "small", 2, 4096, "EUR", 0.05m, 99.99m);
        var swiss = await PublishAsync("cc", prefix + "swiss", 4, 8192, "EUR", 0.10m, 99.99m);

        var found = await FindAsync("vcpus=4&memory=8GiB&jurisdiction=DE&maxPrice=0.20&currency=EUR&availability=99.9");

        var mine = found.Offers.Where(o => o.Name.StartsWith(prefix, StringComparison.Ordinal)).ToList();
        mine.Select(o => o.OfferingId).ShouldBe([better.Id, cheap.Id]);
        var offer = mine[1];
        offer.Peer.ShouldBe(new FederatedPeer("ProviderCo-DE", Address("de")));
        offer.Url.ShouldBe($"{clouds.CloudUrl("de").AbsoluteUri.TrimEnd('/')}/catalog/offerings/{cheap.Id}");
        (offer.Vcpus, offer.MemoryMiB, offer.Jurisdiction, offer.Region).ShouldBe((4, 8192L, "DE", "eu-central"));
        (offer.Price, offer.Unit, offer.Currency, offer.Availability).ShouldBe((0.12m, "hour", "EUR", 99.9m));
        found.Offers.Select(o => o.OfferingId).ShouldNotContain(dear.Id);
        found.Offers.Select(o => o.OfferingId).ShouldNotContain(small.Id);
        found.Offers.Select(o => o.OfferingId).ShouldNotContain(swiss.Id);
        found.Answered.Select(p => p.Address).ShouldBe([Address("cc"), Address("de")], ignoreOrder: true);
        found.Unanswered.Select(u => u.Address).ShouldNotContain(Address("de"));
        found.Offers.Select(o => o.Price).ShouldBeInOrder(SortDirection.Ascending);

        var anywhere = await FindAsync("vcpus=4&currency=EUR&maxPrice=0.11");
        var only = anywhere.Offers.Where(o => o.Name.StartsWith(prefix, StringComparison.Ordinal)).ShouldHaveSingleItem();
        (only.OfferingId, only.Peer.Name, only.Jurisdiction).ShouldBe((swiss.Id, "CloudCoC", "CH"));
    }

    [Fact]
    public async Task SparqlOverXmpp_GivesTheSameRowsAsOverHttp()
    {
        await PeersOnlineAsync("us", "de");
        await PublishAsync("de", CatalogApi.UniquePrefix("same") + "offering", 2, 4096, "USD", 0.07m, 99.5m);

        var response = await clouds.Admin("us").PostAsJsonAsync("/api/v1/federation/query", new FederatedQueryRequest(Titles, ["ProviderCo-DE"]), WelkinJson.Client, Ct);
        var federated = await response.ReadAsync<FederatedQueryResult>();
        var overHttp = await clouds.Admin("de").GetAsync("/api/v1/catalog/sparql?query=" + Uri.EscapeDataString(Titles), Ct);
        overHttp.EnsureSuccessStatusCode();
        using var local = JsonDocument.Parse(await overHttp.Content.ReadAsStringAsync(Ct));

        federated.Unanswered.ShouldBeEmpty();
        var answer = federated.Answers.ShouldHaveSingleItem();
        answer.Peer.ShouldBe(new FederatedPeer("ProviderCo-DE", Address("de")));
        var rows = answer.Results.GetProperty("results").GetProperty("bindings");
        rows.GetArrayLength().ShouldBePositive();
        rows.GetRawText().ShouldBe(local.RootElement.GetProperty("results").GetProperty("bindings").GetRawText());
        answer.Results.GetProperty("head").GetRawText().ShouldBe(local.RootElement.GetProperty("head").GetRawText());
    }

    [Fact]
    public async Task Query_ThatTheEngineRefuses_NamesThePeerUnansweredWithTheEngineCondition()
    {
        await PeersOnlineAsync("us", "de");

        var response = await clouds.Admin("us").PostAsJsonAsync("/api/v1/federation/query", new FederatedQueryRequest("SELECT WHERE {", [Address("de")]), WelkinJson.Client, Ct);

        var result = await response.ReadAsync<FederatedQueryResult>();
        result.Answers.ShouldBeEmpty();
        var refused = result.Unanswered.ShouldHaveSingleItem();
        (refused.Address, refused.Reason, refused.Condition).ShouldBe((Address("de"), "error", "bad-request/sparql-syntax"));
        refused.Detail.ShouldNotBeNullOrWhiteSpace();
    }

    [Fact]
    public async Task Query_WhoseAnswerWouldNotFitInAStanza_IsRefusedAsTooLarge_NotSent()
    {
        await PeersOnlineAsync("us", "de");
        var pad = new string('x', 15_000);
        var query = $"SELECT ?s ?p ?o ?pad WHERE {{ ?s ?p ?o BIND(\"{pad}\" AS ?pad) }}";

        var response = await clouds.Admin("us").PostAsJsonAsync("/api/v1/federation/query", new FederatedQueryRequest(query, ["ProviderCo-DE"]), WelkinJson.Client, Ct);

        var result = await response.ReadAsync<FederatedQueryResult>();
        result.Answers.ShouldBeEmpty();
        var refused = result.Unanswered.ShouldHaveSingleItem();
        (refused.Reason, refused.Condition).ShouldBe(("error", "not-acceptable/answer-too-large"));
        refused.Detail.ShouldContain("LIMIT");
        await PeersOnlineAsync("us", "de");
    }

    [Fact]
    public async Task Find_WithATrustedPeerThatNeverAnswers_AnswersWithTheOthers_AndNamesItUnanswered()
    {
        var never = new TaskCompletionSource<XmppIqAnswer>(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = clouds.Prosody.Options("probe", Password, "probe") with
        {
            IqHandlers = new Dictionary<XName, XmppIqHandler> { [SparqlPayload.QueryName] = (_, _) => never.Task },
        };
        var (client, error) = await XmppClient.ConnectAsync(options, Ct);
        client.ShouldNotBeNull(error?.Detail);
        await using (client)
        {
            try
            {
                await AskSilentProbeAsync(client);
            }
            finally
            {
                never.TrySetResult(XmppIqAnswer.Error("cancel", "item-not-found"));
            }
        }
    }

    private async Task AskSilentProbeAsync(XmppClient client)
    {
        await Polling.UntilAsync(async () =>
        {
            await client.SendAsync(SignedPresence(Address("us"), clouds.Strangers["probe"], "Probe"), Ct);
            return await TrustsAsync("us", "probe");
        }, "ProviderCo-US trusts the probe", Patience, TimeSpan.FromMilliseconds(500));
        await PeersOnlineAsync("us", "de", "cc");

        var found = await FindAsync("vcpus=1");

        found.Answered.Select(p => p.Address).ShouldBe([Address("cc"), Address("de")], ignoreOrder: true);
        var silent = found.Unanswered.ShouldHaveSingleItem();
        silent.Address.ShouldBe(Address("probe"));
        // The probe's read loop waits for its handler, so it may also have missed a ping and be offline by now.
        silent.Reason.ShouldBeOneOf("timeout", "offline");
    }

    [Theory]
    [InlineData("rogue", "impostor")]
    [InlineData("de", "impostor")]
    public async Task SparqlIq_FromAnythingButAVerifiedTrustedPeerSession_IsRefusedForbidden(string user, string resource)
    {
        await PeersOnlineAsync("us", "de");
        var (client, error) = await XmppClient.ConnectAsync(clouds.Prosody.Options(user, Password, resource), Ct);
        client.ShouldNotBeNull(error?.Detail);
        await using (client)
        {
            var (result, refused) = await client.QueryAsync(Session("us"), "get", SparqlPayload.Query(Titles), Ct);

            result.ShouldBeNull();
            refused!.StanzaError.ShouldNotBeNull();
            (refused.StanzaError.Type, refused.StanzaError.Condition).ShouldBe(("auth", "forbidden"));
        }
    }

    [Theory]
    [InlineData("vcpus=0")]
    [InlineData("vcpus=four")]
    [InlineData("memory=8")]
    [InlineData("memory=8GB")]
    [InlineData("jurisdiction=Germany")]
    [InlineData("maxPrice=0.20")]
    [InlineData("maxPrice=-1&currency=EUR")]
    [InlineData("currency=euro")]
    [InlineData("availability=101")]
    public async Task Find_WithInvalidCriteria_Answers400NamingTheParameter(string query)
    {
        var response = await clouds.Admin("us").GetAsync("/api/v1/federation/offers?" + query, Ct);

        response.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        var problem = await response.Content.ReadAsStringAsync(Ct);
        problem.ShouldContain(query.Split('=')[0]);
    }

    [Fact]
    public async Task Query_WithoutSparqlOrNamingAnUnknownPeer_IsRefused()
    {
        var empty = await clouds.Admin("us").PostAsJsonAsync("/api/v1/federation/query", new FederatedQueryRequest(" "), WelkinJson.Client, Ct);
        var unknown = await clouds.Admin("us").PostAsJsonAsync("/api/v1/federation/query", new FederatedQueryRequest(Titles, ["Nobody"]), WelkinJson.Client, Ct);

        empty.StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        unknown.StatusCode.ShouldBe(HttpStatusCode.NotFound);
    }

    private async Task<FederatedOfferList> FindAsync(string query) =>
        await (await clouds.Admin("us").GetAsync("/api/v1/federation/offers?" + query, Ct)).ReadAsync<FederatedOfferList>();

    private async Task<OfferingView> PublishAsync(string user, string name, int vcpus, long memoryMiB, string currency, decimal cpuHour, decimal availability)
    {
        var admin = clouds.Admin(user);
        var template = await admin.PublishedTemplateAsync(CatalogApi.Template(name + " template", vcpus, memoryMiB));
        var spec = CatalogApi.Compute(name, template.Id) with
        {
            PricePlan = new PricePlan(currency, "month", [new PriceRate("compute-unit", "unit-month", 40m), new PriceRate("cpu-hour", "hour", cpuHour)]),
            Sla = new SlaTerms(availability, 90m),
        };
        var offering = await admin.CreateOfferingAsync(spec);
        return await admin.PublishOfferingAsync(offering.Id);
    }

    private static XElement SignedPresence(string to, X509Certificate2 certificate, string name)
    {
        var now = TimeProvider.System.GetUtcNow();
        var presence = new CloudPresence(name, UrlOf("probe"), CloudPresence.FingerprintOf(certificate.RawData), certificate.RawData,
            now.ToUnixTimeMilliseconds(), now, CloudPresence.Available, new CloudCapacity([], 0));
        return new XElement(XName.Get("presence", "jabber:client"), new XAttribute("to", to), presence.ToSignedXml(certificate));
    }
}
