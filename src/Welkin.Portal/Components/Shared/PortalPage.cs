using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http;
using Welkin.Client;
using Welkin.Portal.Sessions;

namespace Welkin.Portal.Components.Shared;

/// <summary>
/// What every portal page shares: the session, the person's API client, and one way to show a refusal. A page
/// loads in <see cref="LoadAsync"/>; an API problem there becomes the page's status (a 404 of the API is a 404
/// of the page) and is shown with <see cref="ProblemAlert"/>.
/// </summary>
public abstract class PortalPage : ComponentBase
{
    [Inject]
    protected PortalContext Portal { get; set; } = default!;

    [Inject]
    protected NavigationManager Navigation { get; set; } = default!;

    [CascadingParameter]
    protected HttpContext? HttpContext { get; set; }

    /// <summary>The last refusal of the API, shown by the page.</summary>
    protected WelkinProblem? Problem { get; set; }

    /// <summary>What the last action did, shown as a status message.</summary>
    protected string? Message { get; set; }

    /// <summary>Whether the page needs a signed-in person (anonymous pages override it).</summary>
    protected virtual bool RequiresSignIn => true;

    /// <summary>Whether only the provider's people may open the page.</summary>
    protected virtual bool ProviderOnly => false;

    protected CancellationToken Ct => HttpContext?.RequestAborted ?? CancellationToken.None;

    /// <summary>The person's client for this cloud.</summary>
    protected WelkinClient Api => Portal.Client();

    protected PortalCloud? Me => Portal.Session?.Home;

    protected sealed override async Task OnInitializedAsync()
    {
        if (RequiresSignIn && !Portal.IsSignedIn)
        {
            var back = Navigation.ToBaseRelativePath(Navigation.Uri);
            Navigation.NavigateTo("/sign-in?returnUrl=" + Uri.EscapeDataString("/" + back));
            return;
        }
        if (ProviderOnly && Me is { IsProvider: false })
        {
            SetStatus(StatusCodes.Status403Forbidden);
            Problem = new WelkinProblem(403, "forbidden", "Provider pages", "This page is for the provider's people.");
            return;
        }
        await TryAsync(LoadAsync, load: true);
    }

    /// <summary>Reads what the page shows; runs on every request of the page, before any form handler.</summary>
    protected virtual Task LoadAsync() => Task.CompletedTask;

    /// <summary>Runs an API call; a refusal is kept in <see cref="Problem"/> and answers false.</summary>
    protected async Task<bool> TryAsync(Func<Task> action, bool load = false)
    {
        try
        {
            await action();
            return true;
        }
        catch (WelkinApiException e)
        {
            Problem = e.Problem;
            if (load)
            {
                SetStatus(e.StatusCode);
            }
            return false;
        }
        catch (HttpRequestException)
        {
            Problem = new WelkinProblem(502, "cloud-unreachable", "The cloud did not answer", "Try again in a moment.");
            if (load)
            {
                SetStatus(StatusCodes.Status502BadGateway);
            }
            return false;
        }
    }

    /// <summary>Runs an action of a form: clears the last outcome, and on success says <paramref name="done"/> and reloads.</summary>
    protected async Task ActAsync(Func<Task> action, string done)
    {
        Problem = null;
        Message = null;
        if (await TryAsync(action))
        {
            Message = done;
            await TryAsync(LoadAsync);
        }
        else
        {
            SetStatus(Problem?.Status is >= 400 and < 500 ? Problem.Status : StatusCodes.Status400BadRequest);
        }
    }

    protected void SetStatus(int status)
    {
        if (HttpContext is { Response.HasStarted: false } http)
        {
            http.Response.StatusCode = status;
        }
    }
}
