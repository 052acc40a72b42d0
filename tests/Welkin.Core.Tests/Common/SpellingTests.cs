using System.Text.Json;
using Welkin.Contracts;

namespace Welkin.Core.Tests.Common;

public sealed class SpellingTests
{
    [Theory]
    [InlineData("account", "account", 0)]
    [InlineData("acount", "account", 1)]
    [InlineData("instnace", "instance", 1)]
    [InlineData("Template", "template", 0)]
    [InlineData("virtualSytems", "virtualSystems", 1)]
    [InlineData("", "abc", 3)]
    public void Distance_CountsInsertsDeletesSubstitutionsAndSwaps(string a, string b, int expected) =>
        Spelling.Distance(a, b).ShouldBe(expected);

    [Fact]
    public void Nearest_OffersTheClosestNamesFirst_AndNothingForAFarWord()
    {
        string[] commands = ["account", "audit", "contract", "image", "instance", "invoice"];

        Spelling.Nearest("acount", commands).ShouldBe(["account"]);
        Spelling.Nearest("instanse", commands).ShouldBe(["instance"]);
        Spelling.Nearest("frobnicate", commands).ShouldBeEmpty();
    }

    [Fact]
    public void Hint_ReadsAsASentenceTail()
    {
        Spelling.Hint("shoq", ["show", "shop", "stop"]).ShouldBe(" (did you mean 'shop' or 'show'?)");
        Spelling.Hint("zzz", ["image"]).ShouldBe("");
    }

    [Fact]
    public void Describe_UnknownField_NamesItAndTheNearestField()
    {
        var top = Refuse<TemplateSpec>("""{"name":"web","virtualSytems":[]}""");
        var nested = Refuse<TemplateSpec>("""{"name":"web","virtualSystems":[{"nme":"a"}]}""");

        WelkinJson.Describe(top).ShouldBe("unknown field 'virtualSytems' (did you mean 'virtualSystems'?)");
        WelkinJson.Describe(nested).ShouldBe("unknown field 'nme' at $.virtualSystems[0].nme (did you mean 'name'?)");
    }

    [Theory]
    [InlineData("""{"name":"web"}""", "missing field 'virtualSystems'")]
    [InlineData("""{"name":null,"virtualSystems":[]}""", "the value at $.name may not be null")]
    [InlineData("""{"name":5,"virtualSystems":[]}""", "the value at $.name is not valid")]
    public void Describe_OtherRefusals_SpeakOfFieldsNotTypes(string json, string expected)
    {
        var description = WelkinJson.Describe(Refuse<TemplateSpec>(json));

        description.ShouldBe(expected);
        description.ShouldNotContain("Welkin.");
        description.ShouldNotContain("System.");
    }

    private static JsonException Refuse<T>(string json) =>
        Should.Throw<JsonException>(() => JsonSerializer.Deserialize<T>(json, WelkinJson.Server));
}
