using Welkin.Core.Common;

namespace Welkin.Core.Security;

/// <summary>
/// Which account's resources a caller may see or change: the one rule every service applies
/// (docs/security.md, "Tenancy").
/// </summary>
/// <remarks>
/// An account principal sees only its own account's rows; a provider principal sees every
/// account's rows only with accounts-read-all (Welkin itself, <see cref="Caller.System"/>, has it).
/// What the caller may do with the rows it sees is a permission of the operation: without it the
/// answer is 403 naming the permission. A row the caller may not see answers exactly like a missing
/// one (404), so ids leak nothing. A tenant's resources are changed by principals of that account
/// holding the permission; provider principals act through their own operations (fabric-write,
/// billing-write, catalog authoring).
/// </remarks>
public static class Tenancy
{
    /// <summary>Whether <paramref name="caller"/> sees rows of <paramref name="accountId"/> (null: provider-level rows).</summary>
    public static bool Sees(Caller caller, string? accountId) =>
        caller.IsProvider ? caller.Can(Permission.AccountsReadAll) : accountId is not null && accountId == caller.AccountId;

    /// <summary>
    /// Null when the caller may use <paramref name="permission"/> on the accounts' rows it sees;
    /// else 403. A provider principal without accounts-read-all sees none, so it is refused here
    /// rather than answered 404 row by row.
    /// </summary>
    /// <param name="what">The operation, for the message ("Reading volumes").</param>
    public static Error? Require(Caller caller, Permission permission, string what)
    {
        if (!caller.Can(permission))
        {
            return Error.Forbidden($"{what} needs the {RolePermissions.Name(permission)} permission.");
        }
        return caller.IsProvider && !caller.Can(Permission.AccountsReadAll)
            ? Error.Forbidden($"{what} needs the {RolePermissions.Name(Permission.AccountsReadAll)} permission.")
            : null;
    }

    /// <summary>Null when the caller is a principal of an account holding <paramref name="permission"/>: the only ones who change that account's resources.</summary>
    public static Error? RequireTenant(Caller caller, Permission permission, string what) =>
        !caller.IsProvider && caller.Can(permission)
            ? null
            : Error.Forbidden($"{what} needs the {RolePermissions.Name(permission)} permission of the account.");

    /// <summary>Null when the caller is a provider principal holding <paramref name="permission"/>: the provider's own operations.</summary>
    public static Error? RequireProvider(Caller caller, Permission permission, string what) =>
        caller.IsProvider && caller.Can(permission)
            ? null
            : Error.Forbidden($"{what} needs a provider role with the {RolePermissions.Name(permission)} permission.");

    /// <summary>
    /// The account a list is limited to: an account principal's own (another account's id answers
    /// 404 as a missing one would), a provider principal's choice or null for all. A malformed
    /// <paramref name="accountId"/> is 400 invalid-id; the permission is checked as by <see cref="Require"/>.
    /// </summary>
    public static Result<string?> Scope(Caller caller, Permission permission, string? accountId, string what)
    {
        if (Filters.Id(accountId, Ids.Account, "account") is { } invalid)
        {
            return invalid;
        }
        if (Require(caller, permission, what) is { } denied)
        {
            return denied;
        }
        if (caller.IsProvider)
        {
            return accountId;
        }
        if (accountId is not null && accountId != caller.AccountId)
        {
            return Error.NotFound("Account", accountId);
        }
        return caller.AccountId;
    }
}
