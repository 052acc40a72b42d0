using System.Security.Cryptography;
using Welkin.Cli.Tests.Infrastructure;
using Welkin.Contracts;

namespace Welkin.Cli.Tests;

/// <summary>Template, offering, catalog and image commands against the real catalog and image endpoints.</summary>
[Collection(CloudsCollection.Name)]
public sealed class CatalogCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    public void Dispose() => _cli.Dispose();

    private Task UseAdminAsync() =>
        _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);

    private async Task<string> WriteAsync(string name, string content)
    {
        var path = Path.Combine(_cli.WorkDir, name);
        await File.WriteAllTextAsync(path, content, TestContext.Current.CancellationToken);
        return path;
    }

    private Task<string> TemplateSpecAsync(string name) => WriteAsync("template.json", $$"""
        {
          "name": "{{name}}",
          "description": "A web server",
          "virtualSystems": [
            {
              "name": "web",
              "hardware": {
                "vcpus": { "allowed": [1, 2, 4], "default": 2 },
                "memoryMiB": { "allowed": [1024, 2048], "default": 1024 },
                "diskGiB": { "allowed": [10, 20], "default": 10 }
              },
              "software": { "operatingSystem": { "allowed": ["debian-12"], "default": "debian-12" } }
            }
          ]
        }
        """);

    private Task<string> OfferingSpecAsync(string name, string templateId) => WriteAsync("offering.json", $$"""
        {
          "name": "{{name}}",
          "kind": "compute",
          "templateId": "{{templateId}}",
          "templateVersion": 1,
          "limitUnit": "compute-unit",
          "pricePlan": {
            "currency": "USD",
            "billingPeriod": "month",
            "rates": [ { "metric": "compute-unit", "unit": "unit-month", "price": 25.00 } ]
          },
          "sla": { "availabilityPercent": 99.9 },
          "terms": { "minimumPeriodMonths": 1, "unprovisionedDiscountPercent": 50 }
        }
        """);

    private async Task<TemplateView> PublishedTemplateAsync(string name)
    {
        var template = (await _cli.OkAsync("template", "create", "--file", await TemplateSpecAsync(name), "--output", "json")).Json<TemplateView>();
        await _cli.OkAsync("template", "publish", template.Id);
        return template;
    }

    [Fact]
    public async Task TemplateCreateAndPublish_MovesTheDraftToPublished()
    {
        await UseAdminAsync();
        var name = Names.Unique("tpl");

        var created = await _cli.OkAsync("template", "create", "--file", await TemplateSpecAsync(name));
        var id = System.Text.RegularExpressions.Regex.Match(created.Out, @"Id:\s+(\S+)").Groups[1].Value;
        var published = (await _cli.OkAsync("template", "publish", id, "--output", "json")).Json<TemplateView>();

        created.Out.ShouldMatch(@"State:\s+draft");
        created.Out.ShouldMatch(@"web\s+1\|2\|4 \(default 2\)");
        published.State.ShouldBe(TemplateState.Published);
        published.TemplateVersion.ShouldBe(1);
        var list = (await _cli.OkAsync("template", "list", "--state", "published", "--limit", "1000", "--output", "json")).Json<Page<TemplateView>>();
        list.Items.ShouldContain(t => t.Id == id);
        (await _cli.OkAsync("template", "versions", id)).Out.ShouldContain("published");
    }

    [Fact]
    public async Task TemplateNewVersion_FromAnExportedTemplate_StartsVersionTwo()
    {
        await UseAdminAsync();
        var template = await PublishedTemplateAsync(Names.Unique("tpl"));
        var exported = (await _cli.OkAsync("template", "show", template.Id, "--output", "json")).Out;

        var next = (await _cli.OkAsync("template", "new-version", template.Id, "--file", await WriteAsync("exported.json", exported), "--output", "json"))
            .Json<TemplateView>();

        next.TemplateVersion.ShouldBe(2);
        next.State.ShouldBe(TemplateState.Draft);
        (await _cli.OkAsync("template", "show", template.Id, "--template-version", "1", "--output", "json")).Json<TemplateView>().State
            .ShouldBe(TemplateState.Published);
    }

    [Fact]
    public async Task OfferingCreateAndPublish_AppearsInThePublicCatalog()
    {
        await UseAdminAsync();
        var template = await PublishedTemplateAsync(Names.Unique("tpl"));
        var name = Names.Unique("web-small");

        var offering = (await _cli.OkAsync("offering", "create", "--file", await OfferingSpecAsync(name, template.Id), "--output", "json")).Json<OfferingView>();
        var published = (await _cli.OkAsync("offering", "publish", offering.Id, "--output", "json")).Json<OfferingView>();

        offering.State.ShouldBe(OfferingState.Draft);
        published.State.ShouldBe(OfferingState.Published);
        // The public catalog needs no credential.
        await _cli.OkAsync("profile", "add", "public", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        var catalog = (await _cli.OkAsync("--profile", "public", "catalog", "list", "--limit", "1000", "--output", "json")).Json<Page<OfferingView>>();
        catalog.Items.ShouldContain(o => o.Id == offering.Id);
        var shown = await _cli.OkAsync("--profile", "public", "catalog", "show", offering.Id);
        shown.Out.ShouldContain(name);
        shown.Out.ShouldMatch(@"compute-unit\s+25(\.00)? USD\s+unit-month");

        var withdrawn = (await _cli.OkAsync("offering", "withdraw", offering.Id, "--output", "json")).Json<OfferingView>();
        withdrawn.State.ShouldBe(OfferingState.Withdrawn);
        var after = (await _cli.OkAsync("--profile", "public", "catalog", "list", "--limit", "1000", "--output", "json")).Json<Page<OfferingView>>();
        after.Items.ShouldNotContain(o => o.Id == offering.Id);
    }

    private sealed record CatalogMatch(string Id, string Name, string VirtualSystem, int Vcpus, long MemoryMiB, string Jurisdiction, string Region);

    [Fact]
    public async Task CatalogFind_ByVcpusAndJurisdiction_ListsTheOfferingsThatMeetBoth_AndRefusesABadJurisdiction()
    {
        await UseAdminAsync();
        var template = await PublishedTemplateAsync(Names.Unique("tpl"));
        var name = Names.Unique("web-find");
        var offering = (await _cli.OkAsync("offering", "create", "--file", await OfferingSpecAsync(name, template.Id), "--output", "json")).Json<OfferingView>();
        await _cli.OkAsync("offering", "publish", offering.Id);
        await _cli.OkAsync("profile", "add", "public", "--endpoint", clouds.A.Endpoint.AbsoluteUri);

        var found = (await _cli.OkAsync("--profile", "public", "catalog", "find", "--vcpus", "4", "--jurisdiction", "de", "--output", "json"))
            .Json<List<CatalogMatch>>();
        var tooLarge = (await _cli.OkAsync("--profile", "public", "catalog", "find", "--vcpus", "8", "--output", "json")).Json<List<CatalogMatch>>();
        var ids = await _cli.OkAsync("--profile", "public", "catalog", "find", "--vcpus", "4", "--jurisdiction", "DE", "-o", "value");
        var bad = await _cli.RunAsync("--profile", "public", "catalog", "find", "--jurisdiction", "DEU");

        found.Where(m => m.Id == offering.Id).ShouldHaveSingleItem().ShouldBe(new CatalogMatch(offering.Id, name, "web", 4, 1024, "DE", "eu-central"));
        tooLarge.ShouldNotContain(m => m.Id == offering.Id);
        ids.Out.Split('\n').ShouldContain(offering.Id);
        bad.ExitCode.ShouldBe(2, bad.ToString());
        bad.Err.ShouldContain("'DEU' is not a jurisdiction (--jurisdiction)");
    }

    [Fact]
    public async Task ImageUploadAndDownload_RoundTripsTheBytesWithProgressAndRanges()
    {
        await UseAdminAsync();
        var bytes = RandomNumberGenerator.GetBytes(5 * 1024 * 1024 + 123);
        var source = Path.Combine(_cli.WorkDir, "disk.raw");
        await File.WriteAllBytesAsync(source, bytes, TestContext.Current.CancellationToken);

        var upload = await _cli.OkAsync("image", "upload", source, "--name", "disk", "--description", "test disk", "--output", "json");
        var image = upload.Json<ImageView>();
        upload.Err.ShouldContain("100%");
        image.SizeBytes.ShouldBe(bytes.Length);
        image.Sha256.ShouldBe(Convert.ToHexStringLower(SHA256.HashData(bytes)), StringCompareShould.IgnoreCase);
        (await _cli.OkAsync("image", "list", "--limit", "1000")).Out.ShouldContain(image.Id);

        var whole = Path.Combine(_cli.WorkDir, "whole.raw");
        var download = await _cli.OkAsync("image", "download", image.Id, "--output", whole);
        download.Out.ShouldContain("SHA-256 verified");
        (await File.ReadAllBytesAsync(whole, TestContext.Current.CancellationToken)).ShouldBe(bytes);

        var part = Path.Combine(_cli.WorkDir, "part.raw");
        await _cli.OkAsync("image", "download", image.Id, "--output", part, "--range", "1000-1999");
        (await File.ReadAllBytesAsync(part, TestContext.Current.CancellationToken)).ShouldBe(bytes[1000..2000]);

        await _cli.OkAsync("image", "delete", image.Id);
        var gone = await _cli.RunAsync("image", "download", image.Id, "--output", Path.Combine(_cli.WorkDir, "gone.raw"));
        gone.ExitCode.ShouldBe(1, gone.ToString());
        File.Exists(Path.Combine(_cli.WorkDir, "gone.raw")).ShouldBeFalse();
    }
}
