using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Welkin.Cli.Tests.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Testing;

namespace Welkin.Cli.Tests;

/// <summary>
/// A provision sent with an Idempotency-Key never gives a second machine, whatever moment a SIGKILL
/// of the server lands at: right after the request was sent, somewhere while it runs, or after its
/// answer. After each kill the server restarts on the same data directory and the client retries
/// with its key; each key then holds exactly one instance of one machine.
/// </summary>
public sealed class IdempotencyDurabilityTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    // Pauses between sending and the kill, so that it lands at different points of the request: not timing assertions.
    private static readonly int[] KillAfterMilliseconds = [0, 2, 10, 40];

    [Fact]
    public async Task Sigkill_AtAnyPointOfAProvision_RetryWithTheKeyGivesExactlyOneMachine()
    {
        var servers = new List<ServerProcess> { await ServerProcess.StartAsync(Ct) };
        try
        {
            var (secret, contractId) = await TenantWithContractAsync(servers[0], KillAfterMilliseconds.Length + 2);
            var keys = new List<string>();

            foreach (var pause in KillAfterMilliseconds)
            {
                var key = Guid.NewGuid().ToString();
                keys.Add(key);
                var sending = ProvisionAsync(servers[^1].Endpoint, secret, contractId, key);
                await Task.Delay(pause, Ct);
                await servers[^1].KillAsync();
                await Ignored(sending);
                servers.Add(await ServerProcess.StartAsync(Ct, servers[0].DataDir));
                var retried = await ProvisionAsync(servers[^1].Endpoint, secret, contractId, key);
                retried.StatusCode.ShouldBe(HttpStatusCode.Accepted, await retried.Content.ReadAsStringAsync(Ct));
            }

            var answeredKey = Guid.NewGuid().ToString();
            keys.Add(answeredKey);
            var answered = await (await ProvisionAsync(servers[^1].Endpoint, secret, contractId, answeredKey)).Content.ReadFromJsonAsync<AcceptedView<InstanceView>>(WelkinJson.Client, Ct);
            await servers[^1].KillAsync();
            servers.Add(await ServerProcess.StartAsync(Ct, servers[0].DataDir));
            var replay = await ProvisionAsync(servers[^1].Endpoint, secret, contractId, answeredKey);
            replay.StatusCode.ShouldBe(HttpStatusCode.Accepted);
            (await replay.Content.ReadFromJsonAsync<AcceptedView<InstanceView>>(WelkinJson.Client, Ct))!.Resource.Id.ShouldBe(answered!.Resource.Id);

            using var tenant = new WelkinClient(servers[^1].Endpoint, secret);
            var instances = await tenant.Instances.ListAsync(contractId: contractId, limit: 500, ct: Ct);
            instances.Items.Count.ShouldBe(keys.Count, "one instance per key");
            foreach (var key in keys)
            {
                instances.Items.Count(i => i.Name == NameOf(key)).ShouldBe(1, key);
            }
            var machines = await tenant.Machines.ListAsync(limit: 500, ct: Ct);
            machines.Items.Count.ShouldBe(keys.Count, "one machine per key");
        }
        catch
        {
            TestContext.Current.SendDiagnosticMessage(string.Join("\n", servers.Select((s, i) => $"server {i}:\n{s.Log}")));
            throw;
        }
        finally
        {
            foreach (var server in Enumerable.Reverse(servers))
            {
                await server.DisposeAsync();
            }
        }
    }

    private static string NameOf(string key) => "idem-" + key[..8];

    private static async Task<HttpResponseMessage> ProvisionAsync(Uri endpoint, string secret, string contractId, string key)
    {
        using var http = new HttpClient { BaseAddress = endpoint };
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/instances")
        {
            Content = JsonContent.Create(new ProvisionRequest(contractId, NameOf(key)), options: WelkinJson.Client),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", secret);
        request.Headers.Add("Idempotency-Key", key);
        var response = await http.SendAsync(request, Ct);
        await response.Content.LoadIntoBufferAsync(Ct);
        return response;
    }

    /// <summary>The request the kill interrupted: it may have been answered or cut off; either is fine.</summary>
    private static async Task Ignored(Task<HttpResponseMessage> sending)
    {
        try
        {
            (await sending).Dispose();
        }
        catch (HttpRequestException)
        {
        }
    }

    private static async Task<(string Secret, string ContractId)> TenantWithContractAsync(ServerProcess server, int machines)
    {
        using var admin = new WelkinClient(server.Endpoint, server.AdminToken);
        var template = await admin.Templates.CreateAsync(new TemplateSpec("idempotent",
        [
            new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1], 1), new Choice<long>([512], 512), new Choice<long>([10], 10))),
        ]), Ct);
        await admin.Templates.PublishAsync(template.Id, new TemplateTransitionRequest(), Ct);
        var offering = await admin.Offerings.CreateAsync(new OfferingSpec("idempotent", OfferingKind.Compute,
            new PricePlan("USD", "month", [new PriceRate("compute-unit", "unit-month", 10m)]), new SlaTerms(99.9m), new OfferingTerms(0, 0m),
            "compute-unit", TemplateId: template.Id, TemplateVersion: 1), Ct);
        await admin.Offerings.PublishAsync(offering.Id, new OfferingTransitionRequest(), Ct);
        var signUp = await admin.Accounts.SignUpAsync(new SignUpRequest(Names.Unique("idem"), "Idem Inc.", new SignUpAdmin("admin")), Ct);
        await admin.Accounts.SetLimitsAsync(signUp.Account.Id, new SetLimitsRequest(new Dictionary<string, long> { ["compute-unit"] = machines }), Ct);
        using var tenant = new WelkinClient(server.Endpoint, signUp.Token.Secret);
        var contract = await tenant.Contracts.RequestAsync(new ContractRequest([new ContractItemRequest(offering.Id, machines)]), Ct);
        await tenant.Contracts.AcceptAsync(contract.Id, ct: Ct);
        return (signUp.Token.Secret, contract.Id);
    }
}
