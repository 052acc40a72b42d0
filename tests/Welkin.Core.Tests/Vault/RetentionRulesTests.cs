using Welkin.Contracts;
using Welkin.Core.Security;
using Welkin.Core.Vault;

namespace Welkin.Core.Tests.Vault;

public sealed class RetentionRulesTests
{
    private static readonly DateTimeOffset Now = new(2026, 3, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly Caller Admin = Caller.For("prn_a", "admin", "acc_a", [Role.AccountAdmin], "t", null);
    private static readonly Caller Provider = Caller.System("t");

    [Theory]
    [InlineData("P7Y", 7, 0, 0)]
    [InlineData("P1Y6M", 1, 6, 0)]
    [InlineData("P90D", 0, 0, 90)]
    [InlineData("P1Y2M3D", 1, 2, 3)]
    public void Period_Parses_YearsMonthsDays(string text, int years, int months, int days)
    {
        RetentionPeriod.TryParse(text, out var period).ShouldBeTrue();
        period.ShouldBe(new RetentionPeriod(years, months, days));
    }

    [Theory]
    [InlineData("")]
    [InlineData("P")]
    [InlineData("7Y")]
    [InlineData("P0D")]
    [InlineData("PT5H")]
    [InlineData("P1D1Y")]
    [InlineData("P1Y1Y")]
    [InlineData("P101Y")]
    [InlineData("P-1Y")]
    [InlineData("P99999999999Y")]
    public void Period_RefusesWhatIsNotAPeriodOfAtMostAHundredYears(string text) =>
        RetentionPeriod.TryParse(text, out _).ShouldBeFalse();

    [Fact]
    public void Period_CountsCalendarYears() =>
        new RetentionPeriod(1, 0, 0).From(new DateTimeOffset(2028, 2, 29, 0, 0, 0, TimeSpan.Zero)).ShouldBe(new DateTimeOffset(2029, 2, 28, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public void Compliance_HoldsAgainstEveryone_AndEveryChangeButLengthening()
    {
        var until = Now.AddYears(1);
        foreach (var caller in new[] { Admin, Provider })
        {
            Code(RetentionRules.CheckChange(caller, "r", RetentionMode.Compliance, until, RetentionMode.Compliance, until.AddDays(-1), true, Now)).ShouldBe("compliance-retention");
            Code(RetentionRules.CheckChange(caller, "r", RetentionMode.Compliance, until, null, null, true, Now)).ShouldBe("compliance-retention");
            Code(RetentionRules.CheckChange(caller, "r", RetentionMode.Compliance, until, RetentionMode.Governance, until.AddYears(5), true, Now)).ShouldBe("compliance-retention");
            Code(RetentionRules.CheckDelete(caller, "r", RetentionMode.Compliance, until, 0, true, Now)).ShouldBe("compliance-retention");
            RetentionRules.CheckChange(caller, "r", RetentionMode.Compliance, until, RetentionMode.Compliance, until.AddDays(1), false, Now).ShouldBeNull();
        }
        // Once expired, it binds nothing.
        RetentionRules.CheckDelete(Admin, "r", RetentionMode.Compliance, Now, 0, false, Now).ShouldBeNull();
    }

    [Fact]
    public void Governance_YieldsOnlyToTheBypassPermissionSaidExplicitly()
    {
        var until = Now.AddYears(1);
        var engineer = Caller.For("prn_e", "engineer", "acc_a", [Role.Engineer], "t", null);
        Code(RetentionRules.CheckDelete(engineer, "r", RetentionMode.Governance, until, 0, true, Now)).ShouldBe("governance-retention");
        Code(RetentionRules.CheckDelete(Admin, "r", RetentionMode.Governance, until, 0, false, Now)).ShouldBe("governance-retention");
        Code(RetentionRules.CheckDelete(Provider, "r", RetentionMode.Governance, until, 0, true, Now)).ShouldBe("governance-retention");
        RetentionRules.CheckDelete(Admin, "r", RetentionMode.Governance, until, 0, true, Now).ShouldBeNull();
        RetentionRules.CheckChange(engineer, "r", RetentionMode.Governance, until, RetentionMode.Governance, until.AddDays(1), false, Now).ShouldBeNull();
    }

    [Fact]
    public void LegalHold_ForbidsDelete_EvenWithoutRetention() =>
        Code(RetentionRules.CheckDelete(Admin, "r", null, null, 1, true, Now)).ShouldBe("legal-hold");

    [Fact]
    public void Change_ToAPastOrHalfGivenRetention_IsInvalid()
    {
        Code(RetentionRules.CheckChange(Admin, "r", null, null, RetentionMode.Governance, Now.AddSeconds(-1), false, Now)).ShouldBe("validation-failed");
        Code(RetentionRules.CheckChange(Admin, "r", null, null, RetentionMode.Governance, null, false, Now)).ShouldBe("validation-failed");
        Code(RetentionRules.CheckChange(Admin, "r", null, null, RetentionMode.Governance, Now.AddYears(101), false, Now)).ShouldBe("validation-failed");
    }

    private static string? Code(Welkin.Core.Common.Error? e) => e?.Code;
}
