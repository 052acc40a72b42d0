using Welkin.Client;
using Welkin.Contracts;

namespace Welkin.Portal.Components.Shared;

/// <summary>The provider's catalog lists, read page by page up to a bound a page can show.</summary>
public static class ProviderLists
{
    private const int Most = 2000;

    public static Task<List<TemplateView>> TemplatesAsync(WelkinClient api, TemplateState? state, CancellationToken ct) =>
        AllAsync(after => api.Templates.ListAsync(state, after: after, limit: 200, ct: ct));

    public static Task<List<OfferingView>> OfferingsAsync(WelkinClient api, CancellationToken ct) =>
        AllAsync(after => api.Offerings.ListAsync(after: after, limit: 200, ct: ct));

    public static Task<List<ImageView>> ImagesAsync(WelkinClient api, CancellationToken ct) =>
        AllAsync(after => api.Images.ListAsync(after: after, limit: 200, ct: ct));

    private static async Task<List<T>> AllAsync<T>(Func<string?, Task<Page<T>>> read)
    {
        var all = new List<T>();
        string? after = null;
        do
        {
            var page = await read(after);
            all.AddRange(page.Items);
            after = page.Next;
        }
        while (after is not null && all.Count < Most);
        return all;
    }
}
