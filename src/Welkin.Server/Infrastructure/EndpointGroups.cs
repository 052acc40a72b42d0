namespace Welkin.Server.Infrastructure;

/// <summary>
/// The one way an interface's endpoints are grouped. Every group audits its refused changes
/// (<see cref="AuditFailuresFilter"/>) and refuses control and bidirectional formatting characters
/// in the text of requests (<see cref="FreeTextFilter"/>); a group needs a bearer token unless it is
/// mapped as anonymous on purpose.
/// </summary>
public static class EndpointGroups
{
    public static RouteGroupBuilder MapInterface(this IEndpointRouteBuilder app, string prefix, string tag) =>
        app.MapGroup(prefix).WithTags(tag).RequireAuthorization().AddEndpointFilter<AuditFailuresFilter>().AddEndpointFilter<FreeTextFilter>();

    /// <summary>Routes anyone may call without a token: login, sign-up and the published catalog.</summary>
    public static RouteGroupBuilder MapAnonymousInterface(this IEndpointRouteBuilder app, string prefix, string tag) =>
        app.MapGroup(prefix).WithTags(tag).AllowAnonymous().AddEndpointFilter<AuditFailuresFilter>().AddEndpointFilter<FreeTextFilter>();
}
