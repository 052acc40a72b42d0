using Welkin.Contracts;
using Welkin.Core.Catalog;

namespace Welkin.Core.Tests.Catalog;

public sealed class CatalogRulesTests
{
    [Theory]
    [InlineData(PropertyType.Boolean, "true", true)]
    [InlineData(PropertyType.Boolean, "false", true)]
    [InlineData(PropertyType.Boolean, "True", false)]
    [InlineData(PropertyType.Boolean, "1", false)]
    [InlineData(PropertyType.Int, "-9223372036854775808", true)]
    [InlineData(PropertyType.Int, "9223372036854775808", false)]
    [InlineData(PropertyType.Int, "1.0", false)]
    [InlineData(PropertyType.Int, " 1", false)]
    [InlineData(PropertyType.Int, "1e3", false)]
    [InlineData(PropertyType.Real, "-12.5", true)]
    [InlineData(PropertyType.Real, "7", true)]
    [InlineData(PropertyType.Real, "1,5", false)]
    [InlineData(PropertyType.Real, "1e3", false)]
    [InlineData(PropertyType.Real, "NaN", false)]
    [InlineData(PropertyType.String, "", true)]
    [InlineData(PropertyType.String, null, false)]
    public void ParsesAs_ReadsValuesAsOvfTypes(PropertyType type, string? value, bool expected) =>
        CatalogRules.ParsesAs(type, value).ShouldBe(expected);

    [Fact]
    public void ParsesAs_RejectsOverlongValues()
    {
        CatalogRules.ParsesAs(PropertyType.String, new string('x', CatalogRules.MaxPropertyValueLength)).ShouldBeTrue();
        CatalogRules.ParsesAs(PropertyType.String, new string('x', CatalogRules.MaxPropertyValueLength + 1)).ShouldBeFalse();
    }

    [Fact]
    public void ParseFilter_AcceptsWireNamesOnly()
    {
        CatalogRules.ParseFilter<TemplateState>(null, "state").Value.ShouldBeNull();
        CatalogRules.ParseFilter<TemplateState>("retired", "state").Value.ShouldBe(TemplateState.Retired);
        CatalogRules.ParseFilter<TemplateState>("Retired", "state").Error!.Errors!.Keys.ShouldBe(["state"]);
        CatalogRules.ParseFilter<TemplateState>("2", "state").IsSuccess.ShouldBeFalse();
    }

    [Fact]
    public void NameAndParse_RoundTripEveryState()
    {
        foreach (var state in Enum.GetValues<OfferingState>())
        {
            WireNames.Parse<OfferingState>(WireNames.Of(state)).ShouldBe(state);
        }
        WireNames.Of(OfferingState.Withdrawn).ShouldBe("withdrawn");
    }
}
