using Welkin.Contracts;
using Welkin.Core.Common;
using Welkin.Core.Instances;

namespace Welkin.Core.Tests.Instances;

public sealed class TemplateChoicesTests
{
    private static readonly TemplateSpec Template = new("shop",
    [
        new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1, 2, 4], 1), new Choice<long>([1024, 2048], 1024), new Choice<long>([10, 20], 10)),
            new SoftwareChoices(new Choice<string>(["debian", "alpine"], "debian"), new Choice<string>(["nginx", "apache"], "nginx")),
            ImageId: "img_web",
            Properties:
            [
                new PropertyDefinition("site.name", PropertyType.String, "www"),
                new PropertyDefinition("port", PropertyType.Int, "80", AllowedValues: ["80", "8080"]),
                new PropertyDefinition("license", PropertyType.String, "oem", UserConfigurable: false),
                new PropertyDefinition("backup", PropertyType.Boolean),
            ]),
        new VirtualSystemSpec("db", new HardwareChoices(new Choice<int>([2], 2), new Choice<long>([4096], 4096), new Choice<long>([100], 100))),
    ]);

    private static IReadOnlyDictionary<string, string[]> Errors<T>(Result<T> result) => result.Error!.Errors!;

    [Fact]
    public void Resolve_WithoutChoices_TakesEveryDefault_OneMachineOfEachSystem_AndTheirImages()
    {
        var resolved = TemplateChoices.Resolve(Template, null, null).Value;

        resolved.Select(r => (r.Choice.VirtualSystem, r.Choice.Count, r.Choice.Vcpus, r.Choice.MemoryMiB, r.Choice.DiskGiB, r.ImageId))
            .ShouldBe([("web", 1, 1, 1024L, 10L, "img_web"), ("db", 1, 2, 4096L, 100L, (string?)null)]);
        var web = resolved[0].Choice;
        (web.OperatingSystem, web.HttpServer, web.DatabaseManager).ShouldBe(("debian", "nginx", (string?)null));
        web.Properties.ShouldBe(new SortedDictionary<string, string>(StringComparer.Ordinal) { ["license"] = "oem", ["port"] = "80", ["site.name"] = "www" });
    }

    [Fact]
    public void Resolve_TakesTheRequest_ThenTheOfferingsRestriction_ThenTheTemplate()
    {
        var restriction = new VirtualSystemRestriction("web", Vcpus: new Choice<int>([2, 4], 2), OperatingSystem: new Choice<string>(["alpine"], "alpine"),
            FixedProperties: new Dictionary<string, string> { ["site.name"] = "shop" });
        var requested = new VirtualSystemChoice("web", 3, Vcpus: 4, Properties: new Dictionary<string, string> { ["port"] = "8080" });

        var web = TemplateChoices.Resolve(Template, [restriction], [requested]).Value[0].Choice;

        (web.Count, web.Vcpus, web.MemoryMiB, web.OperatingSystem).ShouldBe((3, 4, 1024L, "alpine"));
        web.Properties!["port"].ShouldBe("8080");
        web.Properties["site.name"].ShouldBe("shop");
    }

    [Fact]
    public void Resolve_RefusesChoicesOutsideWhatTheOfferingAllows_NamingEachField()
    {
        var restriction = new VirtualSystemRestriction("web", Vcpus: new Choice<int>([2], 2));
        var requested = new VirtualSystemChoice("web", 101, Vcpus: 1, MemoryMiB: 512, OperatingSystem: "windows", DatabaseManager: "postgres");

        var errors = Errors(TemplateChoices.Resolve(Template, [restriction], [requested]));

        errors.Keys.Order(StringComparer.Ordinal).ShouldBe(
            ["virtualSystems[0].count", "virtualSystems[0].databaseManager", "virtualSystems[0].memoryMiB", "virtualSystems[0].operatingSystem", "virtualSystems[0].vcpus"]);
        errors["virtualSystems[0].vcpus"].ShouldBe(["virtualSystems[0].vcpus must be one of 2"]);
        errors["virtualSystems[0].databaseManager"].ShouldBe(["virtualSystems[0].databaseManager: the template offers no choice here"]);
    }

    [Fact]
    public void Resolve_RefusesUnknownSystemsTwiceChosenSystemsAndPropertiesThatAreNotTheCallers()
    {
        var restriction = new VirtualSystemRestriction("web", FixedProperties: new Dictionary<string, string> { ["site.name"] = "shop" });
        VirtualSystemChoice[] requested =
        [
            new("cache"),
            new("web", Properties: new Dictionary<string, string> { ["site.name"] = "x", ["license"] = "gpl", ["colour"] = "red", ["port"] = "81" }),
            new("web"),
        ];

        var errors = Errors(TemplateChoices.Resolve(Template, [restriction], requested));

        errors["virtualSystems[0].virtualSystem"].ShouldHaveSingleItem().ShouldContain("web, db");
        errors["virtualSystems[2].virtualSystem"].ShouldBe(["virtualSystems[2] chooses 'web' a second time"]);
        errors["virtualSystems[1].properties.site.name"].ShouldBe(["virtualSystems[1].properties.site.name is fixed by the offering"]);
        errors["virtualSystems[1].properties.license"].ShouldBe(["virtualSystems[1].properties.license is fixed by the template"]);
        errors["virtualSystems[1].properties.colour"].ShouldBe(["virtualSystems[1].properties.colour: the virtual system has no property 'colour'"]);
        errors["virtualSystems[1].properties.port"].ShouldHaveSingleItem().ShouldContain("one of: 80, 8080");
    }

    [Fact]
    public void Intersect_NarrowsByEverySetThatIsGiven_AndNullMeansAnywhere()
    {
        TemplateChoices.Intersect(null, null).ShouldBeNull();
        TemplateChoices.Intersect(["US", "DE", "FR"], null, ["DE", "FR", "DE"]).ShouldBe(["DE", "FR"]);
        TemplateChoices.Intersect(["US"], ["DE"]).ShouldBeEmpty();
    }

    [Fact]
    public void ValidateConstraints_BoundsTheNumberAndLengthOfValues()
    {
        var v = new Validator();
        TemplateChoices.ValidateConstraints(v, new PlacementConstraints(Enumerable.Range(0, 100).Select(i => "j" + i).ToList(), [""]));

        v.ToError()!.Errors!.Keys.Order(StringComparer.Ordinal).ShouldBe(["constraints.jurisdictions", "constraints.regions"]);
        var ok = new Validator();
        TemplateChoices.ValidateConstraints(ok, new PlacementConstraints(["US"], null));
        ok.IsValid.ShouldBeTrue();
    }

    [Fact]
    public void Resize_KeepsWhatItLeavesOut_AllowsOnlyTheOfferingsChoices_AndRefusesTheSameSize()
    {
        var web = Template.VirtualSystems[0];
        var restriction = new VirtualSystemRestriction("web", Vcpus: new Choice<int>([1, 2], 1));

        TemplateChoices.Resize(web, restriction, 1, 1024, 2, null).Value.ShouldBe((2, 1024L));
        TemplateChoices.Resize(web, restriction, 1, 1024, null, 2048).Value.ShouldBe((1, 2048L));
        Errors(TemplateChoices.Resize(web, restriction, 1, 1024, 4, 4096)).Keys.Order(StringComparer.Ordinal).ShouldBe(["memoryMiB", "vcpus"]);
        Errors(TemplateChoices.Resize(web, restriction, 1, 1024, 1, null))["vcpus"].ShouldBe(["the machine already has 1 vCPU and 1024 MiB memory"]);
    }
}
