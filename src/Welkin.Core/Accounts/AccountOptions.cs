using Welkin.Core.Common;

namespace Welkin.Core.Accounts;

/// <summary>Who may sign up through the catalog without a provider admin's token (<c>Accounts:SignUp</c>).</summary>
public enum SignUpPolicy
{
    /// <summary>Anyone; the account is active at once, with the default limits.</summary>
    Open,

    /// <summary>Anyone, but the account stays pending until a provider admin approves it.</summary>
    Approval,

    /// <summary>Nobody: only a provider admin creates accounts.</summary>
    Closed,
}

/// <summary>The provider's account policy: section <c>Accounts</c>.</summary>
public sealed class AccountOptions
{
    public SignUpPolicy SignUp { get; set; } = SignUpPolicy.Open;

    /// <summary>The limits every new account starts with (<c>Accounts:DefaultLimits:&lt;unit&gt;</c>).</summary>
    public Dictionary<string, long> DefaultLimits { get; set; } = new(StringComparer.Ordinal)
    {
        [AccountService.ComputeUnit] = 0,
        [AccountService.StorageUnit] = 0,
    };

    /// <summary>
    /// How far an account-admin may raise its own limits (<c>Accounts:Ceiling:&lt;unit&gt;</c>); a
    /// unit without a ceiling cannot be raised by the account at all. Beyond it, a limit request
    /// that a provider admin decides. 30 covers Table 1's "increases the account limit" (5 to 30).
    /// </summary>
    public Dictionary<string, long> Ceiling { get; set; } = new(StringComparer.Ordinal)
    {
        [AccountService.ComputeUnit] = 30,
        [AccountService.StorageUnit] = 30,
    };

    public long CeilingOf(string unit) => Ceiling.TryGetValue(unit, out var c) ? c : 0;

    /// <summary>Throws when a unit name or a value is out of range.</summary>
    public void Validate()
    {
        foreach (var (section, limits) in new[] { ("DefaultLimits", DefaultLimits), ("Ceiling", Ceiling) })
        {
            foreach (var (unit, value) in limits)
            {
                if (!Names.IsValid(unit) || value is < 0 or > AccountService.MaxLimit)
                {
                    throw new ArgumentException($"Accounts:{section}:{unit} must name a unit ({Names.Rule}) and be between 0 and {AccountService.MaxLimit}.");
                }
            }
        }
    }
}
