using System.Globalization;

namespace Welkin.Intercloud.Rdf;

internal enum SparqlTokenKind
{
    Iri,
    PrefixedName,
    Variable,
    String,
    Number,
    BlankNode,
    LanguageTag,
    Word,
    Symbol,
}

internal readonly record struct SparqlToken(SparqlTokenKind Kind, string Text)
{
    public bool Is(string symbol) => Kind == SparqlTokenKind.Symbol && Text == symbol;

    public bool IsWord(string word) => Kind == SparqlTokenKind.Word && string.Equals(Text, word, StringComparison.OrdinalIgnoreCase);
}

// Splits a query into the terminals of the SPARQL 1.1 grammar (section 19.8) far enough to tell
// keywords and operators from the same characters inside IRIs, strings, comments and prefixed names.
// It does not validate: Rasqal does that afterwards and its message is what the caller sees.
internal static class SparqlTokenizer
{
    public static (List<SparqlToken>? Tokens, string? Error) Tokenize(string text)
    {
        var tokens = new List<SparqlToken>();
        var i = 0;
        while (i < text.Length)
        {
            var c = text[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
            }
            else if (c == '#')
            {
                while (i < text.Length && text[i] is not '\n' and not '\r')
                {
                    i++;
                }
            }
            else
            {
                var (token, next, error) = Next(text, i, tokens.Count > 0 ? tokens[^1] : null);
                if (error is not null)
                {
                    return (null, error);
                }
                tokens.Add(token);
                i = next;
            }
        }
        return (tokens, null);
    }

    private static (SparqlToken Token, int Next, string? Error) Next(string text, int i, SparqlToken? previous)
    {
        var c = text[i];
        switch (c)
        {
            case '<' when IriEnd(text, i) is { } end:
                return (new(SparqlTokenKind.Iri, text[(i + 1)..end]), end + 1, null);
            case '"' or '\'':
                return StringLiteral(text, i);
            case '?' or '$' when i + 1 < text.Length && IsNameChar(text[i + 1]):
                var varEnd = NameEnd(text, i + 1, allowDots: false);
                return (new(SparqlTokenKind.Variable, text[(i + 1)..varEnd]), varEnd, null);
            case '_' when i + 1 < text.Length && text[i + 1] == ':':
                var blankEnd = NameEnd(text, i + 2, allowDots: true);
                return (new(SparqlTokenKind.BlankNode, text[i..blankEnd]), blankEnd, null);
            case '@' when i + 1 < text.Length && char.IsAsciiLetter(text[i + 1]):
                var tagEnd = i + 1;
                while (tagEnd < text.Length && (char.IsAsciiLetterOrDigit(text[tagEnd]) || text[tagEnd] == '-'))
                {
                    tagEnd++;
                }
                return (new(SparqlTokenKind.LanguageTag, text[(i + 1)..tagEnd]), tagEnd, null);
        }
        if (char.IsAsciiDigit(c) || c == '.' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])
            || c is '+' or '-' && i + 1 < text.Length && (char.IsAsciiDigit(text[i + 1]) || text[i + 1] == '.') && !IsOperand(previous))
        {
            return Number(text, i);
        }
        if (c == ':' || IsNameStart(c))
        {
            var end = NameEnd(text, i, allowDots: true);
            var name = text[i..end];
            return (new(name.Contains(':', StringComparison.Ordinal) ? SparqlTokenKind.PrefixedName : SparqlTokenKind.Word, name), end, null);
        }
        foreach (var symbol in (string[])["^^", "||", "&&", "!=", "<=", ">="])
        {
            if (string.CompareOrdinal(text, i, symbol, 0, 2) == 0)
            {
                return (new(SparqlTokenKind.Symbol, symbol), i + 2, null);
            }
        }
        return (new(SparqlTokenKind.Symbol, c.ToString()), i + 1, null);
    }

    private static bool IsOperand(SparqlToken? token) => token is { } t && (t.Kind is not SparqlTokenKind.Symbol and not SparqlTokenKind.Word || t.Is(")") || t.Is("]"));

    // IRIREF: '<' ([^<>"{}|^`\]-[#x00-#x20])* '>'; anything else starting with '<' is the operator.
    private static int? IriEnd(string text, int start)
    {
        for (var i = start + 1; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '>')
            {
                return i;
            }
            if (c <= ' ' || c is '<' or '"' or '{' or '}' or '|' or '^' or '`')
            {
                return null;
            }
        }
        return null;
    }

    private static (SparqlToken, int, string?) StringLiteral(string text, int start)
    {
        var quote = text[start];
        var isLong = start + 2 < text.Length && text[start + 1] == quote && text[start + 2] == quote;
        var i = start + (isLong ? 3 : 1);
        while (i < text.Length)
        {
            var c = text[i];
            if (c == '\\')
            {
                i += 2;
                continue;
            }
            if (!isLong && c is '\n' or '\r')
            {
                break;
            }
            if (c == quote && (!isLong || i + 2 < text.Length && text[i + 1] == quote && text[i + 2] == quote))
            {
                var end = i + (isLong ? 3 : 1);
                return (new(SparqlTokenKind.String, text[start..end]), end, null);
            }
            i++;
        }
        return (default, 0, $"A string starting at character {start.ToString(CultureInfo.InvariantCulture)} is not closed.");
    }

    private static (SparqlToken, int, string?) Number(string text, int start)
    {
        var i = start + (text[start] is '+' or '-' ? 1 : 0);
        while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.' && i + 1 < text.Length && char.IsAsciiDigit(text[i + 1])))
        {
            i++;
        }
        if (i < text.Length && text[i] is 'e' or 'E')
        {
            i++;
            if (i < text.Length && text[i] is '+' or '-')
            {
                i++;
            }
            while (i < text.Length && char.IsAsciiDigit(text[i]))
            {
                i++;
            }
        }
        return (new(SparqlTokenKind.Number, text[start..i]), i, null);
    }

    private static bool IsNameStart(char c) => char.IsAsciiLetter(c) || c == '_' || c > 0x7F && char.IsLetterOrDigit(c);

    private static bool IsNameChar(char c) => IsNameStart(c) || char.IsAsciiDigit(c) || c is '-' || c > 0x7F;

    // PN_PREFIX ':' PN_LOCAL: dots only inside a name, '%xx' and '\'-escapes in the local part.
    private static int NameEnd(string text, int start, bool allowDots)
    {
        var i = start;
        while (i < text.Length)
        {
            var c = text[i];
            if (IsNameChar(c) || c == ':')
            {
                i++;
            }
            else if (c == '\\' && i + 1 < text.Length)
            {
                i += 2;
            }
            else if (c == '%' && i + 2 < text.Length && char.IsAsciiHexDigit(text[i + 1]) && char.IsAsciiHexDigit(text[i + 2]))
            {
                i += 3;
            }
            else if (c == '.' && allowDots && i + 1 < text.Length && (IsNameChar(text[i + 1]) || text[i + 1] == ':'))
            {
                i++;
            }
            else
            {
                break;
            }
        }
        return i;
    }
}
