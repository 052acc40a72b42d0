using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Welkin.Contracts;
using Welkin.Server.Tests.Catalog;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Testing;

namespace Welkin.Server.Tests.Federation;

/// <summary>A broker resells a peer's offering it holds an agreement for: its own template and offering, the peer's prices plus a margin.</summary>
public sealed class ResaleTests(AgreementClouds clouds) : IClassFixture<AgreementClouds>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private HttpClient Broker => clouds.Consumer.OrdinaryAdmin();

    private async Task<AgreementView> AgreementAsync() =>
        await (await Broker.PostAsJsonAsync("/api/v1/federation/agreements", new AgreementRequest("Cloud2", clouds.Terms()), WelkinJson.Client, Ct))
            .ReadAsync<AgreementView>(HttpStatusCode.Created);

    private Task<HttpResponseMessage> ResellAsync(ResaleRequest request) =>
        Broker.PostAsJsonAsync("/api/v1/federation/resales", request, WelkinJson.Client, Ct);

    [Fact]
    public async Task AResale_PublishesThePeersOffering_WithItsVirtualSystems_SlaAndTerms_AtItsPricesPlusTheMargin_Once()
    {
        var agreement = await AgreementAsync();

        var resale = await (await ResellAsync(new ResaleRequest(agreement.Id, clouds.Compute.Id, 25m, "Resold small"))).ReadAsync<ResaleView>(HttpStatusCode.Created);

        (resale.AgreementId, resale.Peer, resale.PeerOfferingId, resale.MarginPercent).ShouldBe((agreement.Id, "Cloud2", clouds.Compute.Id, 25m));
        var offering = await (await Broker.GetAsync($"/api/v1/catalog/offerings/{resale.OfferingId}", Ct)).ReadAsync<OfferingView>();
        offering.State.ShouldBe(OfferingState.Published);
        offering.Spec.Name.ShouldBe("Resold small");
        offering.Spec.TemplateId.ShouldBe(resale.TemplateId);
        offering.Spec.PricePlan.Rates.Select(r => (r.Metric, r.Price)).ShouldBe(
            clouds.Compute.Spec.PricePlan.Rates.Select(r => (r.Metric, Math.Round(r.Price * 1.25m, 4))));
        offering.Spec.Sla.ShouldBe(clouds.Compute.Spec.Sla);
        offering.Spec.Terms.ShouldBe(clouds.Compute.Spec.Terms);
        offering.Spec.Constraints!.Jurisdictions.ShouldBe(["DE"], "where the agreement lets machines run");
        offering.Spec.Burst!.Enabled.ShouldBeTrue("its machines run in the peer's pool");
        offering.Spec.Burst.Peers.ShouldBe(["Cloud2"]);
        offering.Spec.Burst.MaxPricePerCpuHour.ShouldBeNull();

        var template = await (await Broker.GetAsync($"/api/v1/templates/{resale.TemplateId}", Ct)).ReadAsync<TemplateView>();
        var peerTemplate = await (await clouds.Provider.OrdinaryAdmin().GetAsync($"/api/v1/templates/{clouds.Compute.Spec.TemplateId}", Ct)).ReadAsync<TemplateView>();
        template.State.ShouldBe(TemplateState.Published);
        template.VirtualSystems.Select(v => (v.Name, v.Hardware.Vcpus.Allowed.Single(), v.Hardware.MemoryMiB.Allowed.Single(), v.Hardware.DiskGiB.Allowed.Single(),
                v.Software!.OperatingSystem!.Default))
            .ShouldBe(peerTemplate.VirtualSystems.Select(v => (v.Name, v.Hardware.Vcpus.Allowed.Single(), v.Hardware.MemoryMiB.Allowed.Single(),
                v.Hardware.DiskGiB.Allowed.Single(), v.Software!.OperatingSystem!.Default)));

        var again = await (await ResellAsync(new ResaleRequest(agreement.Id, clouds.Compute.Id, 40m))).ReadAsync<ResaleView>(HttpStatusCode.Created);
        again.Id.ShouldBe(resale.Id, "one resale per agreement and peer offering");
        (await (await Broker.GetAsync($"/api/v1/federation/resales?agreement={agreement.Id}", Ct)).ReadAsync<List<ResaleView>>()).ShouldHaveSingleItem().Id.ShouldBe(resale.Id);
        (await CatalogApi.AuditAsync(Broker)).ShouldContain(e => e.Action == "federation.resale.create" && e.Target == resale.Id);
    }

    [Fact]
    public async Task AnOfferingTheAgreementDoesNotCover_ABadMargin_AndAnAgreementThisCloudProvides_AreRefused()
    {
        var agreement = await AgreementAsync();

        await (await ResellAsync(new ResaleRequest(agreement.Id, "off_01h00000000000000000000000", 10m))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await ResellAsync(new ResaleRequest(agreement.Id, clouds.Compute.Id, -1m))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await ResellAsync(new ResaleRequest(agreement.Id, clouds.Compute.Id, 1001m))).ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        await (await ResellAsync(new ResaleRequest("agr_01h00000000000000000000000", clouds.Compute.Id, 10m))).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        var provided = await (await clouds.Provider.OrdinaryAdmin().GetAsync("/api/v1/federation/agreements", Ct)).ReadAsync<List<AgreementView>>();
        var providerSide = provided.First(a => a.RemoteId is null || a.Side == AgreementSide.Provider);
        await (await clouds.Provider.OrdinaryAdmin().PostAsJsonAsync("/api/v1/federation/resales", new ResaleRequest(providerSide.Id, clouds.Compute.Id, 10m), WelkinJson.Client, Ct))
            .ProblemAsync(HttpStatusCode.Conflict, "invalid-state");
    }

    [Fact]
    public async Task TheAgreementsCredential_GoesOnlyToThePeerWhoseCertificateTheAgreementNamed()
    {
        var agreement = await AgreementAsync();
        (await Broker.GetAsync($"/api/v1/federation/agreements/{agreement.Id}/usage", Ct)).StatusCode.ShouldBe(HttpStatusCode.OK);

        // The same URL now answers with a certificate the agreement did not name (as if it had changed hands).
        await clouds.Consumer.Services.GetRequiredService<Welkin.Core.Data.IDatabase>().WriteAsync<int>(async tx =>
            await tx.ExecuteAsync("UPDATE federation_agreements SET peer_fingerprint = @F WHERE id = @Id", new { F = new string('0', 64), agreement.Id }), Ct);

        await (await Broker.GetAsync($"/api/v1/federation/agreements/{agreement.Id}/usage", Ct)).ProblemAsync(HttpStatusCode.ServiceUnavailable, "peer-unreachable");
    }
}
