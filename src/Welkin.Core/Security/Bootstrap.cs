using Welkin.Contracts;
using Welkin.Core.Audit;
using Welkin.Core.Data;

namespace Welkin.Core.Security;

/// <summary>
/// First start: when no provider-admin exists, create one and issue its token. The secret is
/// returned once for the caller to write to an owner-only file; it is never logged or stored.
/// </summary>
public sealed class Bootstrap(IDatabase db, SecurityManager security, AuditLog audit)
{
    public const string AdminName = "admin";

    public async Task<string?> EnsureProviderAdminAsync(CancellationToken ct)
    {
        var result = await db.WriteAsync<string?>(async tx =>
        {
            if (await SecurityManager.CountProviderAdminsAsync(tx) > 0)
            {
                return (string?)null;
            }
            var admin = await security.InsertPrincipalAsync(tx, null, AdminName, "Provider administrator", PrincipalKind.Person, [Role.ProviderAdmin], null);
            if (!admin.IsSuccess)
            {
                // Replicas sharing a PostgreSQL database may bootstrap at the same moment: the
                // insert of the one that lost waited for the winner's commit, now visible here.
                return await SecurityManager.CountProviderAdminsAsync(tx) > 0 ? (string?)null : admin.Error!;
            }
            // Bootstrap token does not expire; rotate it (docs/operations.md) once other admins exist.
            var token = await security.IssueTokenAsync(tx, admin.Value.Id, "bootstrap", null);
            await audit.AppendAsync(tx, Caller.System("bootstrap"), new AuditEvent("principal.bootstrap", admin.Value.Id, AuditEvent.Success, null));
            return token.Secret;
        }, ct);
        return result.IsSuccess ? result.Value
            : throw new InvalidOperationException($"Cannot create the provider administrator: {result.Error!.Detail}");
    }
}
