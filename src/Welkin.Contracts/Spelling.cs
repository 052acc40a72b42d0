namespace Welkin.Contracts;

/// <summary>
/// "Did you mean …" for a name someone typed: the known names nearest to it by edit distance.
/// One rule for the command line (commands, options) and for JSON documents (fields).
/// </summary>
public static class Spelling
{
    /// <summary>The candidates close enough to <paramref name="word"/> to be what was meant, nearest first.</summary>
    public static IReadOnlyList<string> Nearest(string word, IEnumerable<string> candidates, int max = 3)
    {
        ArgumentNullException.ThrowIfNull(word);
        ArgumentNullException.ThrowIfNull(candidates);
        // A third of the word may be wrong (at least one edit), so 'acount' finds 'account' but 'x' finds nothing much.
        var allowed = Math.Max(1, word.Length / 3);
        return candidates
            .Where(c => !string.Equals(c, word, StringComparison.Ordinal))
            .Select(c => (Name: c, Distance: Distance(word, c)))
            .Where(c => c.Distance <= allowed)
            .OrderBy(c => c.Distance)
            .ThenBy(c => c.Name, StringComparer.Ordinal)
            .Select(c => c.Name)
            .Distinct(StringComparer.Ordinal)
            .Take(max)
            .ToList();
    }

    /// <summary>
    /// Edits (insert, delete, substitute, swap two neighbours) that turn one into the other, ignoring
    /// case: the optimal string alignment distance.
    /// </summary>
    public static int Distance(string a, string b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        a = a.ToLowerInvariant();
        b = b.ToLowerInvariant();
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }
        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }
        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }
        return d[a.Length, b.Length];
    }

    /// <summary>" (did you mean 'a' or 'b'?)", or "" when nothing is near.</summary>
    public static string Hint(string word, IEnumerable<string> candidates)
    {
        var near = Nearest(word, candidates);
        return near.Count switch
        {
            0 => "",
            1 => $" (did you mean '{near[0]}'?)",
            _ => $" (did you mean {string.Join(", ", near.Take(near.Count - 1).Select(n => $"'{n}'"))} or '{near[^1]}'?)",
        };
    }
}
