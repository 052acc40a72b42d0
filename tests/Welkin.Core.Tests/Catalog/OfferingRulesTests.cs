using Welkin.Contracts;
using Welkin.Core.Catalog;
using Welkin.Core.Common;

namespace Welkin.Core.Tests.Catalog;

public sealed class OfferingRulesTests
{
    private static readonly string TemplateId = "tpl_" + new string('0', 26);

    private static readonly TemplateSpec Template = new("t",
    [
        new VirtualSystemSpec("app", new HardwareChoices(new Choice<int>([1, 2, 4], 2), new Choice<long>([2048, 4096], 2048), new Choice<long>([20], 20)),
            new SoftwareChoices(new Choice<string>(["debian", "rhel"], "debian")),
            Properties: [new PropertyDefinition("workers", PropertyType.Int, "2", AllowedValues: ["2", "4"]), new PropertyDefinition("name", PropertyType.String)]),
    ]);

    private static OfferingSpec Compute(params VirtualSystemRestriction[] choices) =>
        new("c", OfferingKind.Compute, new PricePlan("EUR", "month", [new PriceRate("cpu-hour", "hour", 0.000001m)]), new SlaTerms(100), new OfferingTerms(120, 100),
            "compute-unit", TemplateId: TemplateId, TemplateVersion: 1, Choices: choices.Length == 0 ? null : choices);

    private static IEnumerable<string> Keys(Validator v) => v.ToError()?.Errors?.Keys ?? [];

    [Fact]
    public void Validate_WhenValidAtTheLimits_HasNoErrors()
    {
        var v = OfferingRules.Validate(Compute());
        OfferingRules.ValidateChoices(v, Compute().Choices, Template);

        Keys(v).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("0.000001", true)]
    [InlineData("0.0000001", false)]
    [InlineData("999999.999999", true)]
    [InlineData("1000000", false)]
    [InlineData("0", true)]
    [InlineData("-0.000001", false)]
    [InlineData("0.130000000", true)]
    public void Validate_PriceRange(string price, bool valid)
    {
        var spec = Compute() with { PricePlan = new PricePlan("EUR", "month", [new PriceRate("cpu-hour", "hour", decimal.Parse(price, System.Globalization.CultureInfo.InvariantCulture))]) };

        OfferingRules.Validate(spec).IsValid.ShouldBe(valid);
    }

    [Theory]
    [InlineData(100, 100, true)]
    [InlineData(100, 16_777_200, true)]
    [InlineData(100, 16_777_300, false)]
    [InlineData(100, 0, false)]
    [InlineData(100, -100, false)]
    [InlineData(65_536, 65_536, true)]
    [InlineData(65_537, 65_537, false)]
    public void Validate_StorageIncrements(long increment, long max, bool valid)
    {
        var spec = Compute() with { Kind = OfferingKind.Storage, TemplateId = null, TemplateVersion = null, Storage = new StorageSpec(increment, max) };

        OfferingRules.Validate(spec).IsValid.ShouldBe(valid);
    }

    [Fact]
    public void Validate_WithUndefinedKind_Rejects() =>
        Keys(OfferingRules.Validate(Compute() with { Kind = (OfferingKind)9 })).ShouldBe(["kind"]);

    [Fact]
    public void ValidateChoices_AcceptsSubsetsAndFixedValues()
    {
        var v = new Validator();

        OfferingRules.ValidateChoices(v, Compute(new VirtualSystemRestriction("app", Vcpus: new Choice<int>([4], 4),
            OperatingSystem: new Choice<string>(["rhel"], "rhel"), FixedProperties: new Dictionary<string, string> { ["workers"] = "4", ["name"] = "x" })).Choices, Template);

        Keys(v).ShouldBeEmpty();
    }

    [Fact]
    public void ValidateChoices_ReportsEachMisfit()
    {
        var v = new Validator();

        OfferingRules.ValidateChoices(v,
        [
            new VirtualSystemRestriction("app", Vcpus: new Choice<int>([3], 3), DatabaseManager: new Choice<string>(["mysql"], "mysql"),
                FixedProperties: new Dictionary<string, string> { ["workers"] = "3", ["ghost"] = "1" }),
            new VirtualSystemRestriction("db"),
        ], Template, "spec.");

        Keys(v).Order(StringComparer.Ordinal).ShouldBe(
        [
            "spec.choices[0].databaseManager",
            "spec.choices[0].fixedProperties.ghost",
            "spec.choices[0].fixedProperties.workers",
            "spec.choices[0].vcpus.allowed[0]",
            "spec.choices[1].virtualSystem",
        ]);
    }
}
