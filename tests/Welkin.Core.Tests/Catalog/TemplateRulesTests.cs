using Welkin.Contracts;
using Welkin.Core.Catalog;

namespace Welkin.Core.Tests.Catalog;

public sealed class TemplateRulesTests
{
    private static TemplateSpec Valid() =>
        new("three tier",
        [
            new VirtualSystemSpec("web", new HardwareChoices(new Choice<int>([1, 2], 1), new Choice<long>([64, 4_194_304], 64), new Choice<long>([1, 65_536], 1)),
                new SoftwareChoices(new Choice<string>(["debian"], "debian"), new Choice<string>(["nginx", "apache"], "nginx")),
                ImageId: "img_" + new string('7', 26),
                Properties:
                [
                    new PropertyDefinition("site.name", PropertyType.String, "www"),
                    new PropertyDefinition("Http_port-2", PropertyType.Int, "-8080", AllowedValues: ["-8080", "80"]),
                    new PropertyDefinition("tls", PropertyType.Boolean, "false"),
                    new PropertyDefinition("ratio", PropertyType.Real, "0.25", AllowedValues: ["0.25", "-1", "3"]),
                ]),
            new VirtualSystemSpec("db", new HardwareChoices(new Choice<int>([256], 256), new Choice<long>([8192], 8192), new Choice<long>([500], 500))),
        ]);

    private static IReadOnlyDictionary<string, string[]> Errors(TemplateSpec spec, string at = "") =>
        TemplateRules.Validate(spec, at).ToError()?.Errors ?? new Dictionary<string, string[]>();

    [Fact]
    public void Validate_WhenValidAtTheLimits_HasNoErrors() =>
        TemplateRules.Validate(Valid()).IsValid.ShouldBeTrue(string.Join("; ", Errors(Valid()).Keys));

    [Fact]
    public void Validate_WithPrefix_NamesFieldsUnderIt()
    {
        var spec = Valid() with { Name = "" };

        Errors(spec, "spec.").Keys.ShouldBe(["spec.name"]);
    }

    [Fact]
    public void Validate_WhenSpecIsNull_ReportsTheSpec()
    {
        TemplateRules.Validate(null).ToError()!.Errors!.Keys.ShouldBe(["spec"]);
        TemplateRules.Validate(null, "spec.").ToError()!.Errors!.Keys.ShouldBe(["spec"]);
    }

    [Fact]
    public void Validate_WithNullElements_ReportsThemInsteadOfThrowing()
    {
        var spec = Valid() with { VirtualSystems = [Valid().VirtualSystems[0], null!] };
        var property = Valid() with { VirtualSystems = [Valid().VirtualSystems[0] with { Properties = [null!] }] };
        var choice = Valid() with
        {
            VirtualSystems = [Valid().VirtualSystems[0] with { Software = new SoftwareChoices(new Choice<string>([null!], "debian")) }],
        };

        Errors(spec).Keys.ShouldBe(["virtualSystems[1]"]);
        Errors(property).Keys.ShouldBe(["virtualSystems[0].properties[0]"]);
        Errors(choice).Keys.ShouldBe(["virtualSystems[0].software.operatingSystem.allowed[0]", "virtualSystems[0].software.operatingSystem.default"]);
    }

    [Fact]
    public void Validate_CollectsEveryProblemAtOnce()
    {
        var system = Valid().VirtualSystems[0];
        var spec = new TemplateSpec("", [system with
        {
            Name = "Web",
            Hardware = new HardwareChoices(new Choice<int>([0], 0), new Choice<long>([64], 128), new Choice<long>([1, 1], 1)),
            ImageId = "img_short",
        }]);

        Errors(spec).Keys.Order(StringComparer.Ordinal).ShouldBe(
        [
            "name",
            "virtualSystems[0].hardware.diskGiB.allowed",
            "virtualSystems[0].hardware.memoryMiB.default",
            "virtualSystems[0].hardware.vcpus.allowed[0]",
            "virtualSystems[0].imageId",
            "virtualSystems[0].name",
        ]);
    }

    [Theory]
    [InlineData("a")]
    [InlineData("Z9")]
    [InlineData("a.b-c_d")]
    public void Validate_AcceptsPropertyKey(string key) =>
        TemplateRules.Validate(WithProperty(new PropertyDefinition(key, PropertyType.String))).IsValid.ShouldBeTrue();

    [Theory]
    [InlineData("")]
    [InlineData("9a")]
    [InlineData("_a")]
    [InlineData("a b")]
    [InlineData("a/b")]
    [InlineData("é")]
    [InlineData("a\n")]
    public void Validate_RejectsPropertyKey(string key) =>
        Errors(WithProperty(new PropertyDefinition(key, PropertyType.String))).Keys.ShouldBe(["virtualSystems[0].properties[0].key"]);

    [Fact]
    public void Validate_PropertyKeyOf80Characters_IsTheLimit()
    {
        TemplateRules.Validate(WithProperty(new PropertyDefinition("k" + new string('x', 79), PropertyType.String))).IsValid.ShouldBeTrue();
        TemplateRules.Validate(WithProperty(new PropertyDefinition("k" + new string('x', 80), PropertyType.String))).IsValid.ShouldBeFalse();
    }

    [Fact]
    public void Validate_WithUndefinedPropertyType_Rejects() =>
        Errors(WithProperty(new PropertyDefinition("k", (PropertyType)42))).Keys.ShouldBe(["virtualSystems[0].properties[0].type"]);

    [Fact]
    public void Validate_WithDuplicateAllowedValues_Rejects() =>
        Errors(WithProperty(new PropertyDefinition("k", PropertyType.Int, AllowedValues: ["1", "1"]))).Keys
            .ShouldBe(["virtualSystems[0].properties[0].allowedValues"]);

    [Fact]
    public void ImageReferences_ListsWellFormedIdsWithTheirFields()
    {
        var image = "img_" + new string('1', 26);
        var spec = Valid() with
        {
            VirtualSystems = [Valid().VirtualSystems[0] with { ImageId = image }, Valid().VirtualSystems[1] with { ImageId = "bad" }, Valid().VirtualSystems[1] with { Name = "c" }],
        };

        TemplateRules.ImageReferences(spec, "spec.").ShouldBe([("spec.virtualSystems[0].imageId", image)]);
    }

    [Fact]
    public void Validate_DataVolumesAtTheLimits_HaveNoErrors()
    {
        var volumes = Enumerable.Range(1, TemplateRules.MaxDataVolumes)
            .Select(i => new DataVolumeSpec($"data{i}", new Choice<long>([0, 1, TemplateRules.MaxDiskGiB], i % 2 == 0 ? 0 : 1), i == 1 ? "img_" + new string('2', 26) : null))
            .ToList();

        Errors(WithVolumes(volumes)).ShouldBeEmpty();
    }

    [Fact]
    public void Validate_MoreThanSixteenDataVolumes_Rejects() =>
        Errors(WithVolumes(Enumerable.Range(1, TemplateRules.MaxDataVolumes + 1).Select(i => new DataVolumeSpec($"d{i}", new Choice<long>([1], 1))).ToList()))
            .Keys.ShouldBe(["virtualSystems[0].dataVolumes"]);

    [Fact]
    public void Validate_DataVolumeRules_ReportEachField()
    {
        var errors = Errors(WithVolumes(
        [
            new DataVolumeSpec("Data", new Choice<long>([1], 1)),
            new DataVolumeSpec("logs", new Choice<long>([0], 0)),
            new DataVolumeSpec("logs", new Choice<long>([-1, 65_537], 5)),
            new DataVolumeSpec("scratch", new Choice<long>([2, 4], 2), "img_nope"),
            null!,
        ]));

        errors.Keys.Order(StringComparer.Ordinal).ShouldBe(
        [
            "virtualSystems[0].dataVolumes[0].name",
            "virtualSystems[0].dataVolumes[1].sizeGiB.allowed",
            "virtualSystems[0].dataVolumes[2].name",
            "virtualSystems[0].dataVolumes[2].sizeGiB.allowed[0]",
            "virtualSystems[0].dataVolumes[2].sizeGiB.allowed[1]",
            "virtualSystems[0].dataVolumes[2].sizeGiB.default",
            "virtualSystems[0].dataVolumes[3].imageId",
            "virtualSystems[0].dataVolumes[4]",
        ]);
        errors["virtualSystems[0].dataVolumes[1].sizeGiB.allowed"].ShouldHaveSingleItem().ShouldContain("not 0");
        errors["virtualSystems[0].dataVolumes[2].name"].ShouldHaveSingleItem().ShouldContain("repeats the name 'logs'");
    }

    [Fact]
    public void Validate_DataVolumeNamedLikeTheSystemOrAnotherSystemsVolume_IsFine() =>
        Errors(Valid() with
        {
            VirtualSystems =
            [
                Valid().VirtualSystems[0] with { DataVolumes = [new DataVolumeSpec("web", new Choice<long>([1], 1)), new DataVolumeSpec("data", new Choice<long>([1], 1))] },
                Valid().VirtualSystems[1] with { DataVolumes = [new DataVolumeSpec("data", new Choice<long>([0, 8], 0))] },
            ],
        }).ShouldBeEmpty();

    [Fact]
    public void ImageReferences_ListsDataVolumeImagesWithTheirFields()
    {
        var (system, volume) = ("img_" + new string('1', 26), "img_" + new string('3', 26));
        var spec = Valid() with
        {
            VirtualSystems =
            [
                Valid().VirtualSystems[0] with
                {
                    ImageId = system,
                    DataVolumes = [new DataVolumeSpec("empty", new Choice<long>([1], 1)), new DataVolumeSpec("seeded", new Choice<long>([4], 4), volume), new DataVolumeSpec("bad", new Choice<long>([4], 4), "bad")],
                },
            ],
        };

        TemplateRules.ImageReferences(spec).ShouldBe([("virtualSystems[0].imageId", system), ("virtualSystems[0].dataVolumes[1].imageId", volume)]);
    }

    private static TemplateSpec WithVolumes(IReadOnlyList<DataVolumeSpec> volumes) =>
        Valid() with { VirtualSystems = [Valid().VirtualSystems[0] with { DataVolumes = volumes }] };

    private static TemplateSpec WithProperty(PropertyDefinition property) =>
        Valid() with { VirtualSystems = [Valid().VirtualSystems[0] with { Properties = [property] }] };
}
