using Welkin.Core.Common;

namespace Welkin.Core.Security;

/// <summary>Whose resources a list operation may show: <see cref="Tenancy.Scope"/> with resources-read.</summary>
public static class ResourceScope
{
    /// <param name="what">The operation, for the 403 message ("Listing jobs").</param>
    public static Result<string?> For(Caller caller, string? accountId, string what) =>
        Tenancy.Scope(caller, Permission.ResourcesRead, accountId, what);
}
