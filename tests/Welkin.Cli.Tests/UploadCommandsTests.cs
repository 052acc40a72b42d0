using Welkin.Cli.Tests.Infrastructure;
using Welkin.Client;
using Welkin.Contracts;
using Welkin.Testing;

namespace Welkin.Cli.Tests;

/// <summary>upload and account-image against a real server: a consumer's own disk becomes an image that a provision boots.</summary>
[Collection(CloudsCollection.Name)]
public sealed class UploadCommandsTests(TwoClouds clouds) : IDisposable
{
    private readonly CliRunner _cli = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _cli.Dispose();

    [Fact]
    public async Task UploadSend_ThenAccountImageImport_AndAProvisionBootsTheOwnImage()
    {
        await _cli.OkAsync("profile", "add", "admin", "--endpoint", clouds.A.Endpoint.AbsoluteUri, "--token-file", clouds.A.AdminTokenFile);
        await _cli.OkAsync("profile", "add", "tenant", "--endpoint", clouds.A.Endpoint.AbsoluteUri);
        await _cli.OkAsync("profile", "use", "tenant");
        var account = (await _cli.OkAsync("account", "sign-up", "--name", Names.Unique("upl"), "--display-name", "Up", "--save", "--output", "json"))
            .Json<SignUpResponse>();
        await _cli.OkAsync("--profile", "admin", "account", "set-limits", account.Account.Id, "--limit", "compute-unit=2");
        var disk = Path.Combine(_cli.WorkDir, "disk.raw");
        var bytes = new byte[3 << 20];
        new Random(7).NextBytes(bytes.AsSpan(512));
        await File.WriteAllBytesAsync(disk, bytes, Ct);

        var sent = (await _cli.OkAsync("upload", "send", disk, "--chunk-mib", "1", "--output", "json")).Json<UploadView>();
        var listed = await _cli.OkAsync("upload", "list");
        var image = (await _cli.OkAsync("account-image", "import", disk, "--name", "own-disk", "--output", "json")).Json<AccountImageView>();
        var images = await _cli.OkAsync("account-image", "list");
        var offering = await ComputeOfferingAsync();
        var proposed = (await _cli.OkAsync("contract", "request", "--offering", offering, "--quantity", "1", "--output", "json")).Json<ContractView>();
        await _cli.OkAsync("contract", "accept", proposed.Id);
        await _cli.OkAsync("instance", "provision", "--contract", proposed.Id, "--image", $"web={image.Id}", "--wait");
        var machine = (await _cli.OkAsync("machine", "list", "--output", "json")).Json<Page<MachineView>>().Items.Single();
        var badImage = await _cli.RunAsync("instance", "provision", "--contract", proposed.Id, "--image", "web");

        sent.State.ShouldBe(UploadState.Complete);
        sent.ReceivedBytes.ShouldBe(bytes.Length);
        listed.Out.ShouldContain(sent.Id);
        image.VirtualSizeBytes.ShouldBe(bytes.Length);
        images.Out.ShouldContain("own-disk");
        machine.ImageId.ShouldBe(image.Id);
        badImage.ExitCode.ShouldNotBe(0);
        badImage.Err.ShouldContain("--image 'web'");
    }

    private async Task<string> ComputeOfferingAsync()
    {
        using var admin = new WelkinClient(clouds.A.Endpoint, clouds.A.AdminToken);
        var name = Names.Unique("cli");
        var template = await admin.Templates.CreateAsync(new TemplateSpec(name,
        [
            new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1], 1), new Choice<long>([512], 512), new Choice<long>([10], 10))),
        ]), Ct);
        await admin.Templates.PublishAsync(template.Id, new TemplateTransitionRequest(), Ct);
        var offering = await admin.Offerings.CreateAsync(new OfferingSpec(name, OfferingKind.Compute,
            new PricePlan("USD", "month", [new PriceRate("compute-unit", "unit-month", 10m)]), new SlaTerms(99.9m), new OfferingTerms(0, 0m),
            "compute-unit", TemplateId: template.Id, TemplateVersion: 1), Ct);
        await admin.Offerings.PublishAsync(offering.Id, new OfferingTransitionRequest(), Ct);
        return offering.Id;
    }
}
