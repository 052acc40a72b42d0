using Welkin.Contracts;
using Welkin.Core.Accounts;
using Welkin.Core.Audit;
using Welkin.Core.Common;
using Welkin.Core.Data;
using Welkin.Core.Security;

namespace Welkin.Core.Billing;

/// <summary>
/// An account's billing address: the bill-to address of its invoices, set by the account-admin
/// (or a provider principal with billing-address-write). An issued invoice keeps the address it
/// was made with; a change applies to later invoices.
/// </summary>
public sealed class BillingAddresses(IDatabase db, AuditLog audit, TimeProvider clock)
{
    public const int MaxLength = 500;
    public const int MaxLines = 8;

    public async Task<Result<BillingAddressView>> GetAsync(Caller caller, string accountId, CancellationToken ct)
    {
        if (!Ids.IsValid(accountId, Ids.Account))
        {
            return Error.InvalidId(accountId, "account");
        }
        if (Tenancy.Require(caller, Permission.AccountRead, "Reading an account's billing address") is { } denied)
        {
            return denied;
        }
        return await db.ReadAsync<Result<BillingAddressView>>(async tx =>
        {
            var row = await AccountStore.GetAsync(tx, accountId);
            if (row is null || !Tenancy.Sees(caller, accountId))
            {
                return Error.NotFound("Account", accountId);
            }
            var billTo = await AccountStore.BillToAsync(tx, accountId);
            return new BillingAddressView(accountId, billTo?.BillingAddress, row.Version);
        }, ct);
    }

    public async Task<Result<BillingAddressView>> SetAsync(Caller caller, string accountId, SetBillingAddressRequest request, CancellationToken ct)
    {
        if (!Ids.IsValid(accountId, Ids.Account))
        {
            return Error.InvalidId(accountId, "account");
        }
        if (Tenancy.Require(caller, Permission.BillingAddressWrite, "Changing an account's billing address") is { } denied)
        {
            return denied;
        }
        if (!Tenancy.Sees(caller, accountId))
        {
            return Error.NotFound("Account", accountId);
        }
        var address = Normalize(request.Address);
        if (Problem(address) is { } problem)
        {
            return Error.Validation("address", problem);
        }
        return await db.WriteAsync<BillingAddressView>(async tx =>
        {
            var row = await AccountStore.GetAsync(tx, accountId);
            if (row is null)
            {
                return Error.NotFound("Account", accountId);
            }
            if (row.State != AccountStore.Active)
            {
                return Error.InvalidState($"Account '{accountId}' is {row.State}.");
            }
            if (request.Version is { } expected && expected != row.Version)
            {
                return Error.VersionMismatch("Account", accountId, expected, row.Version);
            }
            if (!await AccountStore.SetBillingAddressAsync(tx, accountId, address, row.Version, clock.GetUtcNow().ToUnixTimeMilliseconds()))
            {
                return Error.Concurrency("Account", accountId);
            }
            await audit.AppendAsync(tx, caller, new AuditEvent("account.set-billing-address", accountId, AuditEvent.Success, accountId,
                address is null ? "removed" : $"{address.Split('\n').Length} lines"));
            return new BillingAddressView(accountId, address, row.Version + 1);
        }, ct);
    }

    /// <summary>Lines trimmed, Windows line ends made "\n", blank lines at either end dropped; null when nothing is left.</summary>
    private static string? Normalize(string? address)
    {
        if (address is null)
        {
            return null;
        }
        var lines = address.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').Select(l => l.Trim()).ToList();
        var text = string.Join('\n', lines).Trim('\n');
        return text.Length == 0 ? null : text;
    }

    private static string? Problem(string? address)
    {
        if (address is null)
        {
            return null;
        }
        if (address.Length > MaxLength)
        {
            return $"address must be at most {MaxLength} characters";
        }
        if (address.Split('\n').Length > MaxLines)
        {
            return $"address must be at most {MaxLines} lines";
        }
        return address.Any(c => char.IsControl(c) && c != '\n') ? "address must not hold control characters (lines are separated by \\n)" : null;
    }
}
