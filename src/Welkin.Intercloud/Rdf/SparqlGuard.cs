namespace Welkin.Intercloud.Rdf;

// Refuses, before Rasqal 0.9.33 sees them, the parts of SPARQL 1.1 it answers wrongly or cannot run
// (measured against Jena ARQ), and those that would reach outside the graph being queried.
internal static class SparqlGuard
{
    private enum Clause
    {
        Pattern,
        Projection,
        Modifier,
    }

    private static readonly HashSet<string> UpdateWords = new(StringComparer.OrdinalIgnoreCase)
    {
        "INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH",
    };

    // Rasqal parses and evaluates nested groups and expressions recursively on the native stack.
    private const int MaxNesting = 64;

    private static readonly HashSet<string> PathSymbols = ["/", "|", "^", "*", "+", "?", "!"];

    public static SparqlError? Check(string query, int triples, long maxCrossProduct)
    {
        var (tokens, error) = SparqlTokenizer.Tokenize(query);
        if (tokens is null)
        {
            return SparqlError.Syntax(error!);
        }
        var clauses = new Stack<Clause>([Clause.Modifier]);
        var bodies = new Stack<bool>([false]);
        var parens = new Stack<bool>();
        var expressionNext = false;
        var nesting = 0;
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            nesting += token.Is("(") || token.Is("{") || token.Is("[") ? 1 : token.Is(")") || token.Is("}") || token.Is("]") ? -1 : 0;
            if (nesting > MaxNesting)
            {
                return SparqlError.Limit($"The query nests groups, brackets or parentheses deeper than the limit of {MaxNesting}.");
            }
            if (Refused(token) is { } refused)
            {
                return refused;
            }
            if (token.IsWord("VALUES"))
            {
                var (end, rows) = ValuesRows(tokens, i + 1);
                if (rows != 1)
                {
                    return SparqlError.Unsupported(
                        "VALUES with more than one row", "Rasqal 0.9.33 gives wrong rows for it; use FILTER(?x IN (...)) instead, or a single row");
                }
                i = end;
            }
            else if (token.IsWord("SELECT") || token.IsWord("ASK"))
            {
                clauses.Pop();
                clauses.Push(Clause.Projection);
            }
            else if (token.IsWord("GROUP") || token.IsWord("ORDER") || token.IsWord("HAVING") || token.IsWord("LIMIT") || token.IsWord("OFFSET"))
            {
                clauses.Pop();
                clauses.Push(Clause.Modifier);
            }
            else if (token.IsWord("FILTER") || token.IsWord("BIND"))
            {
                expressionNext = true;
            }
            else if (token.Is("{"))
            {
                if (i + 1 < tokens.Count && tokens[i + 1].IsWord("SELECT") && !IsWholeBody(tokens, i, bodies.Peek()))
                {
                    return SparqlError.Unsupported(
                        "A subquery joined with other patterns", "Rasqal 0.9.33 loses or invents rows in that join; a subquery must be the whole WHERE clause of its query");
                }
                var body = clauses.Peek() == Clause.Projection;
                if (body)
                {
                    clauses.Pop();
                    clauses.Push(Clause.Modifier);
                }
                clauses.Push(Clause.Pattern);
                bodies.Push(body);
            }
            else if (token.Is("}") && clauses.Count > 1)
            {
                clauses.Pop();
                bodies.Pop();
            }
            else if (token.IsWord("CONCAT") && ComputedArgument(tokens, i + 1))
            {
                return SparqlError.Unsupported(
                    "CONCAT of a computed value", "Rasqal 0.9.33 returns corrupt text for it; BIND the value to a variable first and CONCAT the variables");
            }
            else if (token.IsWord("DISTINCT") && i > 0 && tokens[i - 1].Is("("))
            {
                return SparqlError.Unsupported(
                    "An aggregate over DISTINCT values",
                    "over a Redland model Rasqal 0.9.33 counts a repeated value now and then, differently from one load of the graph to the next; "
                    + "aggregate a SELECT DISTINCT subquery that is the whole WHERE clause instead");
            }
            else if ((token.IsWord("STRBEFORE") || token.IsWord("STRAFTER")) && ComputedArgument(tokens, i + 1))
            {
                return SparqlError.Unsupported(
                    "STRBEFORE or STRAFTER of a computed value",
                    "Rasqal 0.9.33 returns empty or corrupt text for it (STRAFTER(STRAFTER(?id, \"-\"), \"-\")); BIND the value to a variable first");
            }
            else if (token.Is("("))
            {
                parens.Push(expressionNext || clauses.Peek() != Clause.Pattern || parens.Count > 0 && parens.Peek());
                expressionNext = false;
            }
            else if (token.Is(")") && parens.Count > 0)
            {
                parens.Pop();
            }
            else if (token.Kind == SparqlTokenKind.Symbol && PathSymbols.Contains(token.Text)
                && clauses.Peek() == Clause.Pattern && !(parens.Count > 0 && parens.Peek()))
            {
                return SparqlError.Unsupported("Property paths", $"Rasqal 0.9.33 does not parse them ('{token.Text}' in a triple pattern); write the steps as triple patterns");
            }
        }
        return SparqlCrossProducts.Check(tokens, triples, maxCrossProduct);
    }

    private static SparqlError? Refused(SparqlToken token)
    {
        if (token.Kind != SparqlTokenKind.Word)
        {
            return null;
        }
        if (token.IsWord("EXISTS"))
        {
            return SparqlError.Unsupported("EXISTS and NOT EXISTS", "Rasqal 0.9.33 cannot evaluate them; use OPTIONAL with FILTER(!BOUND(?x)) instead of NOT EXISTS");
        }
        if (token.IsWord("MINUS"))
        {
            return SparqlError.Unsupported("MINUS", "Rasqal 0.9.33 cannot evaluate it; use OPTIONAL with FILTER(!BOUND(?x))");
        }
        if (token.IsWord("CONSTRUCT") || token.IsWord("DESCRIBE"))
        {
            return SparqlError.Unsupported(token.Text.ToUpperInvariant(), "the engine answers SELECT and ASK queries only");
        }
        if (token.IsWord("FLOOR") || token.IsWord("CEIL") || token.IsWord("ROUND"))
        {
            return SparqlError.Unsupported(
                "FLOOR, CEIL and ROUND", "Rasqal 0.9.33 rounds xsd:decimal values through binary floating point (FLOOR(0.9 * 10) gives 8)");
        }
        if (token.IsWord("UCASE") || token.IsWord("LCASE"))
        {
            return SparqlError.Unsupported("UCASE and LCASE", "Rasqal 0.9.33 changes the case of ASCII letters only (UCASE(\"zürich\") gives \"ZüRICH\")");
        }
        if (token.IsWord("SERVICE"))
        {
            return SparqlError.Unsupported("SERVICE (federated query)", "a query runs over this cloud's description only");
        }
        if (token.IsWord("FROM"))
        {
            return SparqlError.Unsupported("FROM and FROM NAMED", "a query runs over this cloud's description only and never loads other graphs");
        }
        return UpdateWords.Contains(token.Text)
            ? SparqlError.Unsupported("SPARQL Update", "the description is read-only")
            : null;
    }

    // The subquery opening at 'open' is the only element of a query's WHERE group: '{ { SELECT ... } }'.
    private static bool IsWholeBody(List<SparqlToken> tokens, int open, bool inBody)
    {
        if (!inBody || !tokens[open - 1].Is("{"))
        {
            return false;
        }
        var depth = 0;
        for (var i = open; i < tokens.Count; i++)
        {
            depth += tokens[i].Is("{") ? 1 : tokens[i].Is("}") ? -1 : 0;
            if (depth == 0)
            {
                return i + 1 < tokens.Count && tokens[i + 1].Is("}");
            }
        }
        return true;
    }

    // CONCAT( args ), STRAFTER( args ) ...: any parenthesis among the arguments is a function call or a nested expression.
    private static bool ComputedArgument(List<SparqlToken> tokens, int open)
    {
        if (open >= tokens.Count || !tokens[open].Is("("))
        {
            return false;
        }
        var depth = 0;
        for (var i = open; i < tokens.Count; i++)
        {
            depth += tokens[i].Is("(") ? 1 : tokens[i].Is(")") ? -1 : 0;
            if (depth == 0)
            {
                return false;
            }
            if (depth > 1)
            {
                return true;
            }
        }
        return false;
    }

    // VALUES ?x { t1 t2 } has one row per term; VALUES (?x ?y) { (..) (..) } one per parenthesised group.
    private static (int End, int Rows) ValuesRows(List<SparqlToken> tokens, int i)
    {
        var singleVariable = i < tokens.Count && tokens[i].Kind == SparqlTokenKind.Variable;
        while (i < tokens.Count && !tokens[i].Is("{"))
        {
            i++;
        }
        var rows = 0;
        var depth = 0;
        for (i++; i < tokens.Count && !tokens[i].Is("}"); i++)
        {
            var token = tokens[i];
            if (token.Is("^^"))
            {
                i++;
            }
            else if (token.Is("("))
            {
                rows += depth++ == 0 && !singleVariable ? 1 : 0;
            }
            else if (token.Is(")"))
            {
                depth--;
            }
            else if (singleVariable && token.Kind != SparqlTokenKind.LanguageTag)
            {
                rows++;
            }
        }
        return (i, rows);
    }
}
