using Welkin.Core.Audit;

namespace Welkin.Core.Tests.Audit;

public sealed class AuditHashTests
{
    private static AuditLog.AuditRow Row() =>
        new(7, 1_790_000_000_000, "prn_x", "acc_y", "principal.create", "prn_z", "success", "roles=engineer", "corr-1", AuditLog.GenesisHash, "");

    [Fact]
    public void ComputeHash_IsStableForTheSameEntry() => AuditLog.ComputeHash(Row()).ShouldBe(AuditLog.ComputeHash(Row()));

    [Fact]
    public void ComputeHash_ChangesWithEveryField()
    {
        var original = AuditLog.ComputeHash(Row());
        var variants = new[]
        {
            Row() with { Seq = 8 }, Row() with { At = 1 }, Row() with { Actor = "prn_w" }, Row() with { AccountId = null },
            Row() with { Action = "principal.update" }, Row() with { Target = "prn_q" }, Row() with { Outcome = "denied" },
            Row() with { Detail = "roles=viewer" }, Row() with { CorrelationId = "corr-2" }, Row() with { PrevHash = new string('1', 64) },
        };
        foreach (var v in variants)
        {
            AuditLog.ComputeHash(v).ShouldNotBe(original);
        }
    }

    [Fact]
    public void ComputeHash_FieldBoundariesCannotBeShifted()
    {
        // "ab" + "c" must not hash like "a" + "bc": fields are length-prefixed.
        var a = Row() with { Action = "ab", Target = "c" };
        var b = Row() with { Action = "a", Target = "bc" };
        AuditLog.ComputeHash(a).ShouldNotBe(AuditLog.ComputeHash(b));
    }
}
