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
        TakeDoneMessage();
        await TryAsync(LoadAsync, load: true);
    }

    /// <summary>The cookie that carries an action's outcome across its redirect (post/redirect/get), shown once.</summary>
    private const string DoneCookie = "welkin-done";

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

    /// <summary>
    /// Runs an action of a form: clears the last outcome, and on success says <paramref name="done"/> and reloads.
    /// With <paramref name="redirect"/> a successful post is answered 303 See Other to the same address
    /// (post/redirect/get: refreshing the page then reads it again, it does not repeat the action) and
    /// <paramref name="done"/> is shown by the page that answers the redirect. A refusal is shown at once either way.
    /// </summary>
    protected async Task ActAsync(Func<Task> action, string done, bool redirect = false)
    {
        Problem = null;
        Message = null;
        if (await TryAsync(action))
        {
            if (redirect && HttpContext is { Response.HasStarted: false } http && HttpMethods.IsPost(http.Request.Method))
            {
                http.Response.Cookies.Append(DoneCookie, done, new CookieOptions
                {
                    HttpOnly = true,
                    SameSite = SameSiteMode.Strict,
                    Secure = http.Request.IsHttps,
                    Path = "/",
                    IsEssential = true,
                });
                http.Response.StatusCode = StatusCodes.Status303SeeOther;
                http.Response.Headers.Location = http.Request.PathBase + http.Request.Path + http.Request.QueryString;
                Message = done;
                return;
            }
            Message = done;
            await TryAsync(LoadAsync);
        }
        else
        {
            SetStatus(Problem?.Status is >= 400 and < 500 ? Problem.Status : StatusCodes.Status400BadRequest);
        }
    }

    /// <summary>Shows, once, the outcome of the action whose post redirected here.</summary>
    private void TakeDoneMessage()
    {
        if (HttpContext is { Response.HasStarted: false } http && http.Request.Cookies.TryGetValue(DoneCookie, out var done))
        {
            Message = done is { Length: > 0 } ? done[..Math.Min(done.Length, 500)] : null;
            http.Response.Cookies.Delete(DoneCookie, new CookieOptions { Path = "/", Secure = http.Request.IsHttps, SameSite = SameSiteMode.Strict, HttpOnly = true });
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
