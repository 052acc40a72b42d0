using Welkin.Core.Common;

namespace Welkin.Core.Security;

/// <summary>Whose resources a list operation may show.</summary>
public static class ResourceScope
{
    /// <summary>
    /// The account a listing is limited to: an account principal's own (another account's id
    /// answers 404 as a missing one would), a provider principal's choice or null for all. Needs
    /// resources-read, and accounts-read-all on the provider side.
    /// </summary>
    /// <param name="what">The operation, for the 403 message ("Listing jobs").</param>
    public static Result<string?> For(Caller caller, string? accountId, string what)
    {
        if (!caller.Can(Permission.ResourcesRead) || (caller.IsProvider && !caller.Can(Permission.AccountsReadAll)))
        {
            return Error.Forbidden($"{what} needs the resources-read permission.");
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
