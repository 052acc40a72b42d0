using System.Collections;
using System.Text;

namespace Welkin.Cli;

/// <summary>
/// Everything the CLI takes from its surroundings: output and error writers, standard input, the
/// environment, and a way to ask for a secret on a terminal. The process passes the real console;
/// tests pass string writers and a dictionary, and run the CLI in-process.
/// </summary>
public sealed class CliContext
{
    public required TextWriter Out { get; init; }

    public required TextWriter Err { get; init; }

    public TextReader In { get; init; } = TextReader.Null;

    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Prompts on a terminal and reads a line without echo; null when there is no terminal to ask on.</summary>
    public Func<string, string?>? PromptSecret { get; init; }

    /// <summary>Whether <see cref="Err"/> is a terminal (progress then redraws one line instead of printing many).</summary>
    public bool ErrIsTerminal { get; init; }

    /// <summary>Whether Ctrl+C and SIGTERM cancel the running command (only for a real process).</summary>
    public bool HandleSignals { get; init; }

    public string? Variable(string name) => Environment.TryGetValue(name, out var value) && value.Length > 0 ? value : null;

    public static CliContext FromProcess()
    {
        var environment = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in System.Environment.GetEnvironmentVariables())
        {
            environment[(string)entry.Key] = (string?)entry.Value ?? "";
        }
        return new CliContext
        {
            Out = Console.Out,
            Err = Console.Error,
            In = Console.In,
            Environment = environment,
            PromptSecret = Console.IsInputRedirected ? null : ReadSecretFromTerminal,
            ErrIsTerminal = !Console.IsErrorRedirected,
            HandleSignals = true,
        };
    }

    private static string? ReadSecretFromTerminal(string prompt)
    {
        Console.Error.Write(prompt);
        var secret = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                Console.Error.WriteLine();
                return secret.ToString();
            }
            if (key.Key == ConsoleKey.Backspace)
            {
                if (secret.Length > 0)
                {
                    secret.Length--;
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                secret.Append(key.KeyChar);
            }
        }
    }
}
