using Welkin.Client;
using Welkin.Contracts;
using Welkin.Portal.Sessions;

namespace Welkin.Portal.Components.Money;

/// <summary>
/// Which account a money page is about: an account's person always their own; a provider's person the one chosen
/// in <see cref="AccountChoice"/> (<c>?account=</c>), or none yet.
/// </summary>
public static class AccountScope
{
    public static string? AccountOf(PortalCloud? me, string? chosen) =>
        me is null ? null : me.IsProvider ? (string.IsNullOrWhiteSpace(chosen) ? null : chosen.Trim()) : me.AccountId;

    /// <summary>The accounts a provider's person may choose from (the first thousand).</summary>
    public static async Task<IReadOnlyList<AccountView>> AccountsAsync(WelkinClient api, CancellationToken ct)
    {
        var all = new List<AccountView>();
        string? after = null;
        do
        {
            var page = await api.Accounts.ListAsync(after: after, limit: 200, ct: ct);
            all.AddRange(page.Items);
            after = page.Next;
        }
        while (after is not null && all.Count < 1000);
        return all;
    }

    /// <summary>A query string's account for links between the money pages of a provider's person ("" for account people).</summary>
    public static string Query(PortalCloud? me, string? account) =>
        me is { IsProvider: true } && account is not null ? "?account=" + Uri.EscapeDataString(account) : "";
}
