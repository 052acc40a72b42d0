using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Ovf;
using Welkin.Server.Tests.Configuration;
using Welkin.Server.Tests.Contracts;
using Welkin.Server.Tests.Infrastructure;
using Welkin.Server.Tests.Instances;
using Welkin.Testing;

namespace Welkin.Server.Tests.Catalog;

/// <summary>
/// Password properties (ovf:password) end to end: imported with their default kept, provisioned with a value the
/// machine gets in clear, and never shown back: not in template, instance or machine views, job results, audit
/// entries, events or exports (each answer's raw text is searched for the secrets).
/// </summary>
public sealed partial class SecretPropertyTests(InstancesApp app) : IClassFixture<InstancesApp>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string ShippedDefault = "changeme-Default-4b1e";
    private const string Given = "Given-Secret-93fa";
    private const string Changed = "Changed-Secret-1c7d";

    /// <summary>An appliance as ovftool writes one: a password with a shipped default, one without, and a plain property.</summary>
    private static string Descriptor(string name) => $"""
        <?xml version="1.0" encoding="UTF-8"?>
        <Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1"
                  xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData">
          <References/>
          <VirtualSystem ovf:id="{name}">
            <Info>An appliance</Info>
            <ProductSection>
              <Info>Appliance settings</Info>
              <Property ovf:key="proxy_password" ovf:type="string" ovf:userConfigurable="true" ovf:password="true" ovf:value="{ShippedDefault}">
                <Label>Proxy password</Label>
              </Property>
              <Property ovf:key="root_password" ovf:type="string" ovf:userConfigurable="true" ovf:password="true" ovf:qualifiers="MinLen(8)">
                <Label>Root password</Label>
              </Property>
              <Property ovf:key="hostname" ovf:type="string" ovf:userConfigurable="true" ovf:value="appliance-host"/>
            </ProductSection>
            <VirtualHardwareSection><Info>hw</Info>
              <Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>1</rasd:VirtualQuantity></Item>
              <Item><rasd:InstanceID>2</rasd:InstanceID><rasd:ResourceType>4</rasd:ResourceType><rasd:VirtualQuantity>512</rasd:VirtualQuantity><rasd:AllocationUnits>MegaBytes</rasd:AllocationUnits></Item>
            </VirtualHardwareSection>
          </VirtualSystem>
        </Envelope>
        """;

    private static async Task<ByteArrayContent> OvaAsync(string descriptor)
    {
        using var buffer = new MemoryStream();
        await OvfWriter.WriteOvaAsync(buffer, "appliance.ovf", Encoding.UTF8.GetBytes(descriptor), [], Ct);
        var body = new ByteArrayContent(buffer.ToArray());
        body.Headers.ContentType = new MediaTypeHeaderValue("application/x-tar");
        return body;
    }

    private static void ShowsNoSecret(string text, string where)
    {
        foreach (var secret in new[] { ShippedDefault, Given, Changed })
        {
            text.ShouldNotContain(secret, Case.Sensitive, $"{where} shows a password value in clear");
        }
    }

    private static async Task<string> TextAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path, Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, path);
        return await response.Content.ReadAsStringAsync(Ct);
    }

    private static async Task<string> DescriptorOfAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path, Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, path);
        await using var tar = new System.Formats.Tar.TarReader(await response.Content.ReadAsStreamAsync(Ct));
        var first = (await tar.GetNextEntryAsync(copyData: true, Ct))!;
        using var reader = new StreamReader(first.DataStream!);
        return await reader.ReadToEndAsync(Ct);
    }

    /// <summary>
    /// The imported template published with an offering, and a fresh tenant with an active contract for it. With
    /// <paramref name="sendViewsBack"/> the spec as the template view shows it (defaults of passwords null) is sent back
    /// to replace the draft and again to start version 2, which the offering then sells.
    /// </summary>
    private async Task<(TemplateView Template, InstancesApi.Tenant Tenant)> ImportedAndContractedAsync(bool sendViewsBack = false)
    {
        var admin = app.Admin();
        var prefix = CatalogApi.UniquePrefix("secret");
        var imported = await admin.PostAsync("/api/v1/templates/import", await OvaAsync(Descriptor(prefix + "appliance")), Ct);
        var importText = await imported.Content.ReadAsStringAsync(Ct);
        imported.StatusCode.ShouldBe(HttpStatusCode.Created, importText);
        ShowsNoSecret(importText, "the import's answer");
        var template = System.Text.Json.JsonSerializer.Deserialize<OvfImportResult>(importText, WelkinJson.Client)!.Template;
        if (sendViewsBack)
        {
            var spec = new TemplateSpec(template.Name, template.VirtualSystems, template.Description);
            template = await (await admin.PutAsJsonAsync($"/api/v1/templates/{template.Id}", new UpdateTemplateRequest(spec), WelkinJson.Client, Ct)).ReadAsync<TemplateView>();
            await admin.PublishTemplateAsync(template.Id);
            template = await (await admin.PostAsJsonAsync($"/api/v1/templates/{template.Id}/versions", new NewTemplateVersionRequest(spec), WelkinJson.Client, Ct))
                .ReadAsync<TemplateView>(HttpStatusCode.Created);
            template.TemplateVersion.ShouldBe(2);
        }
        await admin.PublishTemplateAsync(template.Id);
        var offering = await admin.PublishOfferingAsync((await admin.CreateOfferingAsync(CatalogApi.Compute(prefix + "compute", template.Id, template.TemplateVersion))).Id);
        var (signUp, client) = await app.SignUpAsync("secret");
        await ContractsApi.SetLimitsAsync(app, signUp.Account.Id, 10, 100);
        var proposed = await (await client.RequestAsync(new ContractRequest([new ContractItemRequest(offering.Id, 2)]))).ReadAsync<ContractView>(HttpStatusCode.Created);
        return (template, new InstancesApi.Tenant(signUp, client, await client.AcceptAsync(proposed.Id)));
    }

    [Fact]
    public async Task Import_PasswordProperties_TemplateViewShowsTheMarkAndNoDefault()
    {
        var (template, _) = await ImportedAndContractedAsync();

        var properties = template.VirtualSystems.ShouldHaveSingleItem().Properties!.ToDictionary(p => p.Key);
        properties["proxy_password"].ShouldBe(new PropertyDefinition("proxy_password", PropertyType.String, null, "Proxy password", Password: true));
        properties["root_password"].Password.ShouldBeTrue();
        properties["hostname"].ShouldBe(new PropertyDefinition("hostname", PropertyType.String, "appliance-host"));
        ShowsNoSecret(await TextAsync(app.Admin(), $"/api/v1/templates/{template.Id}"), "the template view");
        ShowsNoSecret(await TextAsync(app.Admin(), "/api/v1/templates?limit=500"), "the template list");
        ShowsNoSecret(await TextAsync(app.Admin(), "/api/v1/audit?limit=1000"), "the provider's audit log");
        var exported = await DescriptorOfAsync(app.Admin(), $"/api/v1/templates/{template.Id}/export");
        ShowsNoSecret(exported, "the template export");
        PasswordElements(exported).ShouldBe(["proxy_password", "root_password"]);
    }

    [Fact]
    public async Task Provision_WithAPassword_TheMachineGetsItAndNothingShowsItBack()
    {
        var (template, tenant) = await ImportedAndContractedAsync();

        var response = await tenant.Client.PostProvisionAsync(new ProvisionRequest(tenant.Contract.Id,
            VirtualSystems: [new VirtualSystemChoice(template.VirtualSystems.Single().Name, Properties: new Dictionary<string, string> { ["root_password"] = Given })]));
        var acceptedText = await response.Content.ReadAsStringAsync(Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, acceptedText);
        ShowsNoSecret(acceptedText, "the provision's answer");
        var accepted = System.Text.Json.JsonSerializer.Deserialize<AcceptedView<InstanceView>>(acceptedText, WelkinJson.Client)!;
        var job = await tenant.Client.WaitAsync(accepted.Job.Id);
        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        var instance = await tenant.Client.GetInstanceAsync(accepted.Resource.Id);
        var machineId = instance.Machines.ShouldHaveSingleItem();

        // The machine gets the values: the one given and the descriptor's shipped default.
        var onTheMachine = app.Driver.Describe(machineId)!.Properties;
        onTheMachine["root_password"].ShouldBe(Given);
        onTheMachine["proxy_password"].ShouldBe(ShippedDefault);
        onTheMachine["hostname"].ShouldBe("appliance-host");
        // Every answer shows them masked, or not at all.
        var machine = await tenant.Client.GetMachineAsync(machineId);
        machine.Properties["root_password"].ShouldBe(SecretProperties.Mask);
        machine.Properties["proxy_password"].ShouldBe(SecretProperties.Mask);
        machine.Properties["hostname"].ShouldBe("appliance-host");
        instance.VirtualSystems.Single().Properties!["root_password"].ShouldBe(SecretProperties.Mask);
        foreach (var path in new[]
        {
            $"/api/v1/machines/{machineId}", $"/api/v1/machines?instanceId={instance.Id}", $"/api/v1/instances/{instance.Id}", "/api/v1/instances",
            $"/api/v1/jobs/{job.Id}", "/api/v1/jobs?limit=1000", "/api/v1/audit?limit=1000", "/api/v1/events?limit=1000",
        })
        {
            ShowsNoSecret(await TextAsync(tenant.Client, path), path);
        }
        ShowsNoSecret(await TextAsync(app.Admin(), "/api/v1/audit?limit=1000"), "the provider's audit log");
        // A machine the instance grows by gets the same values, masked alike.
        var scaleResponse = await tenant.Client.PostAsync($"/api/v1/instances/{instance.Id}/scale", new ScaleRequest(template.VirtualSystems.Single().Name, 2));
        var scaleText = await scaleResponse.Content.ReadAsStringAsync(Ct);
        scaleResponse.StatusCode.ShouldBe(HttpStatusCode.Accepted, scaleText);
        ShowsNoSecret(scaleText, "the scale's answer");
        var scaled = System.Text.Json.JsonSerializer.Deserialize<AcceptedView<InstanceView>>(scaleText, WelkinJson.Client)!;
        (await tenant.Client.WaitAsync(scaled.Job.Id)).State.ShouldBe(JobState.Succeeded);
        var added = (await tenant.Client.GetInstanceAsync(instance.Id)).Machines.Single(m => m != machineId);
        app.Driver.Describe(added)!.Properties["root_password"].ShouldBe(Given);
        (await tenant.Client.GetMachineAsync(added)).Properties["root_password"].ShouldBe(SecretProperties.Mask);
        ShowsNoSecret(await TextAsync(tenant.Client, $"/api/v1/jobs/{scaled.Job.Id}"), "the scale's job");
        foreach (var path in new[] { $"/api/v1/machines/{machineId}/export", $"/api/v1/instances/{instance.Id}/export" })
        {
            var exported = await DescriptorOfAsync(tenant.Client, path);
            ShowsNoSecret(exported, path);
            exported.ShouldNotContain(SecretProperties.Mask);
            PasswordElements(exported).Distinct().ShouldBe(["proxy_password", "root_password"]);
            exported.ShouldContain("appliance-host");
        }
    }

    [Fact]
    public async Task Configure_APassword_ReachesTheMachineAndIsMaskedInTheAnswerAndTheEvent()
    {
        var (_, tenant) = await ImportedAndContractedAsync();
        var (_, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id));
        var machineId = instance.Machines.Single();
        app.Driver.Describe(machineId)!.Properties.ContainsKey("root_password").ShouldBeFalse();

        var response = await tenant.Client.PutAsJsonAsync($"/api/v1/machines/{machineId}/configuration",
            new ConfigurationRequest(new Dictionary<string, string> { ["root_password"] = Changed }), WelkinJson.Client, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        response.StatusCode.ShouldBe(HttpStatusCode.Accepted, text);
        var accepted = System.Text.Json.JsonSerializer.Deserialize<AcceptedView<MachineView>>(text, WelkinJson.Client)!;
        var job = await tenant.Client.WaitAsync(accepted.Job.Id);

        job.State.ShouldBe(JobState.Succeeded, job.ErrorDetail);
        ShowsNoSecret(text, "the configuration's answer");
        accepted.Resource.Properties["root_password"].ShouldBe(SecretProperties.Mask);
        app.Driver.Describe(machineId)!.Properties["root_password"].ShouldBe(Changed);
        var configured = (await tenant.Client.EventsAsync(machineId)).Last(e => e.Type == "machine.configured");
        configured.Data["property.root_password"].ShouldBe(SecretProperties.Mask);
        var instanceWide = await tenant.Client.PutAsJsonAsync($"/api/v1/instances/{instance.Id}/configuration",
            new ConfigurationRequest(new Dictionary<string, string> { ["proxy_password"] = Changed }), WelkinJson.Client, Ct);
        var instanceText = await instanceWide.Content.ReadAsStringAsync(Ct);
        instanceWide.StatusCode.ShouldBe(HttpStatusCode.Accepted, instanceText);
        ShowsNoSecret(instanceText, "the instance configuration's answer");
        (await tenant.Client.WaitAsync(System.Text.Json.JsonSerializer.Deserialize<AcceptedView<InstanceView>>(instanceText, WelkinJson.Client)!.Job.Id))
            .State.ShouldBe(JobState.Succeeded);
        app.Driver.Describe(machineId)!.Properties["proxy_password"].ShouldBe(Changed);
        foreach (var path in new[] { $"/api/v1/machines/{machineId}", $"/api/v1/jobs/{job.Id}", "/api/v1/audit?limit=1000", $"/api/v1/events?target={machineId}&limit=1000" })
        {
            ShowsNoSecret(await TextAsync(tenant.Client, path), path);
        }
    }

    [Fact]
    public async Task UpdateTemplate_WithTheSpecItsViewShows_KeepsThePasswordsStoredDefault()
    {
        var (template, tenant) = await ImportedAndContractedAsync(sendViewsBack: true);

        var (_, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id));

        template.VirtualSystems.Single().Properties!.Single(p => p.Key == "proxy_password").Default.ShouldBeNull();
        app.Driver.Describe(instance.Machines.Single())!.Properties["proxy_password"].ShouldBe(ShippedDefault);
    }

    [Fact]
    public async Task Provision_APasswordOfAnotherTenant_IsNotSeenByIt()
    {
        var (template, tenant) = await ImportedAndContractedAsync();
        var (_, instance) = await tenant.Client.ProvisionedAsync(new ProvisionRequest(tenant.Contract.Id,
            VirtualSystems: [new VirtualSystemChoice(template.VirtualSystems.Single().Name, Properties: new Dictionary<string, string> { ["root_password"] = Given })]));
        var (_, other) = await app.SignUpAsync("other");

        await (await other.GetAsync($"/api/v1/machines/{instance.Machines[0]}", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        await (await other.GetAsync($"/api/v1/machines/{instance.Machines[0]}/export", Ct)).ProblemAsync(HttpStatusCode.NotFound, "not-found");
        ShowsNoSecret(await TextAsync(other, "/api/v1/events?limit=1000"), "another tenant's events");
        ShowsNoSecret(await TextAsync(other, "/api/v1/audit?limit=1000"), "another tenant's audit log");
    }

    [Fact]
    public async Task Offering_ThatFixesAPasswordProperty_IsRefused()
    {
        var (template, _) = await ImportedAndContractedAsync();
        var system = template.VirtualSystems.Single().Name;

        var response = await app.Admin().PostAsJsonAsync("/api/v1/offerings", CatalogApi.Compute(CatalogApi.UniquePrefix("secret") + "fixed", template.Id,
            choices: [new VirtualSystemRestriction(system, FixedProperties: new Dictionary<string, string> { ["root_password"] = Given })]), WelkinJson.Client, Ct);

        var problem = await response.ProblemAsync(HttpStatusCode.BadRequest, "validation-failed");
        problem.GetRawText().ShouldContain("password property");
    }

    /// <summary>The keys of the descriptor's properties marked ovf:password; each must carry no value.</summary>
    private static List<string> PasswordElements(string descriptor)
    {
        var keys = new List<string>();
        foreach (Match m in PropertyElement().Matches(descriptor))
        {
            if (m.Value.Contains("ovf:password=\"true\"", StringComparison.Ordinal))
            {
                m.Value.ShouldNotContain("ovf:value=");
                keys.Add(Regex.Match(m.Value, "ovf:key=\"([^\"]+)\"").Groups[1].Value);
            }
        }
        return keys.Order(StringComparer.Ordinal).ToList();
    }

    [GeneratedRegex("<ovf:Property [^>]*>")]
    private static partial Regex PropertyElement();
}
