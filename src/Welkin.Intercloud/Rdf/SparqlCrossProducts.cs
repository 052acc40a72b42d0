namespace Welkin.Intercloud.Rdf;

// Rasqal cannot be interrupted while it sorts, groups or filters a join, so a cross product is judged
// before the query runs: within each group, triple patterns and nested groups that share no variable
// multiply, and k such parts over a graph of N triples may cost N^k rows. The estimate errs low: a
// ';' or ',' list counts as one pattern, and expressions are not read.
internal static class SparqlCrossProducts
{
    private sealed class Frame
    {
        public List<HashSet<string>> Parts { get; } = [];

        public HashSet<string> Current { get; set; } = new(StringComparer.Ordinal);

        public bool MergeNext { get; set; }

        public void EndPattern()
        {
            if (Current.Count > 0)
            {
                Add(Current);
            }
            Current = new(StringComparer.Ordinal);
        }

        public void Add(HashSet<string> part)
        {
            if (MergeNext && Parts.Count > 0)
            {
                Parts[^1].UnionWith(part);
            }
            else
            {
                Parts.Add(part);
            }
            MergeNext = false;
        }
    }

    public static SparqlError? Check(List<SparqlToken> tokens, int triples, long maxRows)
    {
        var frames = new Stack<Frame>();
        var parens = 0;
        foreach (var token in tokens)
        {
            if (token.Is("("))
            {
                parens++;
            }
            else if (token.Is(")"))
            {
                parens = Math.Max(parens - 1, 0);
            }
            else if (parens > 0 || token.Kind == SparqlTokenKind.Word && !token.IsWord("UNION"))
            {
                continue;
            }
            else if (token.Is("{"))
            {
                frames.Push(new Frame());
            }
            else if (token.Is("}") && frames.Count > 0)
            {
                var frame = frames.Pop();
                frame.EndPattern();
                if (Estimate(frame.Parts, triples, maxRows) is { } error)
                {
                    return error;
                }
                if (frames.Count > 0)
                {
                    frames.Peek().EndPattern();
                    frames.Peek().Add(new HashSet<string>(frame.Parts.SelectMany(part => part), StringComparer.Ordinal));
                }
            }
            else if (frames.Count > 0 && token.IsWord("UNION"))
            {
                frames.Peek().MergeNext = true;
            }
            else if (frames.Count > 0 && token.Is("."))
            {
                frames.Peek().EndPattern();
            }
            else if (frames.Count > 0 && token.Kind == SparqlTokenKind.Variable)
            {
                frames.Peek().Current.Add(token.Text);
            }
        }
        return null;
    }

    private static SparqlError? Estimate(List<HashSet<string>> parts, int triples, long maxRows)
    {
        var components = Components(parts);
        if (components < 2)
        {
            return null;
        }
        var estimate = Math.Pow(Math.Max(triples, 1), components);
        return estimate <= maxRows
            ? null
            : SparqlError.Limit(
                $"The query joins {components} groups of patterns that share no variable: a cross product of up to {estimate:0.#e0} rows over this graph's {triples} triples, more than the limit of {maxRows}. Join the patterns through a shared variable.");
    }

    private static int Components(List<HashSet<string>> parts)
    {
        var remaining = new List<HashSet<string>>(parts);
        var count = 0;
        while (remaining.Count > 0)
        {
            var component = new HashSet<string>(remaining[0], StringComparer.Ordinal);
            remaining.RemoveAt(0);
            for (var grown = true; grown;)
            {
                grown = false;
                for (var i = remaining.Count - 1; i >= 0; i--)
                {
                    if (remaining[i].Overlaps(component))
                    {
                        component.UnionWith(remaining[i]);
                        remaining.RemoveAt(i);
                        grown = true;
                    }
                }
            }
            count++;
        }
        return count;
    }
}
