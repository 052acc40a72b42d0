using System.Text.RegularExpressions;
using Welkin.Client;

namespace Welkin.Cli.Infrastructure;

/// <summary>What to do about a problem, printed under it: the CLI knows things the server cannot (which credential it sent, which command raises a limit).</summary>
internal static partial class ProblemHints
{
    /// <param name="profile">The profile in use, or WELKIN_ENDPOINT.</param>
    /// <param name="tokenSource">Where the token sent came from; null when the request carried none.</param>
    public static IEnumerable<string> For(WelkinProblem problem, string? profile, string? tokenSource)
    {
        ArgumentNullException.ThrowIfNull(problem);
        switch (problem.Code)
        {
            case "unauthenticated" when tokenSource is not null:
                yield return $"The server refused {tokenSource}: it is revoked, expired or wrong.";
                yield return "Log in again with 'welkin login --name NAME', or use a new token (made with 'welkin token create' by someone logged in).";
                break;
            case "unauthenticated" when profile == Invocation.EnvEndpoint:
                yield return $"No token was sent: set {Invocation.EnvToken} to an API token.";
                break;
            case "unauthenticated" when profile is not null:
                yield return $"No token was sent: log in with 'welkin login --name NAME' or give profile '{profile}' a token.";
                break;
            case "quota-exceeded" when LimitDetail().Match(problem.Detail ?? "") is { Success: true } m:
                var unit = m.Groups["unit"].Value;
                if (m.Groups["limit"].Value == "0")
                {
                    yield return $"The account's limit for {unit} is 0: a new account may order nothing until the provider sets its limits.";
                }
                yield return $"A provider administrator raises it with 'welkin account set-limits ACCOUNT_ID --limit {unit}=N' "
                    + "(it replaces all the account's limits; 'welkin account quotas ACCOUNT_ID' shows them, 'welkin whoami' your account id).";
                break;
        }
    }

    // The detail of the server's quota-exceeded problem: "Limit of compute-unit exceeded: limit 0, ordered 0, requested 3."
    [GeneratedRegex(@"^Limit of (?<unit>[A-Za-z0-9._-]+) exceeded: limit (?<limit>[0-9]+)", RegexOptions.CultureInvariant)]
    private static partial Regex LimitDetail();
}
