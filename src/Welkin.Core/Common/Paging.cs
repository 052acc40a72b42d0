using Welkin.Contracts;

namespace Welkin.Core.Common;

/// <summary>
/// One page of a keyset-paged list: the limit clamped to 1..<paramref name="max"/>, how many rows
/// to read (one more than the page shows, so the extra row tells whether a next page exists), and
/// the page built from the rows read, with the cursor of its last item when more follow.
/// </summary>
public sealed class Paging(int limit, int max = Paging.DefaultMax)
{
    public const int DefaultMax = 500;

    public int Limit { get; } = Math.Clamp(limit, 1, Math.Max(1, max));

    /// <summary>The <c>LIMIT</c> to read.</summary>
    public int Take => Limit + 1;

    /// <summary>The rows the page shows: the first <see cref="Limit"/> of those read.</summary>
    public IReadOnlyList<T> Rows<T>(IReadOnlyList<T> read) => read.Count > Limit ? read.Take(Limit).ToList() : read;

    public Page<TView> Page<TRow, TView>(IReadOnlyList<TRow> read, Func<TRow, TView> view, Func<TView, string> cursor)
    {
        var items = read.Take(Limit).Select(view).ToList();
        return new Page<TView>(items, items.Count, read.Count > Limit ? cursor(items[^1]) : null);
    }

    public Page<T> Page<T>(IReadOnlyList<T> read, Func<T, string> cursor) => Page(read, r => r, cursor);
}
