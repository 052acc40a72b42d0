using System.CommandLine;
using System.Globalization;
using Welkin.Cli.Infrastructure;

namespace Welkin.Cli.Commands;

/// <summary>
/// <c>welkin completion bash|zsh</c> prints a script that asks <c>welkin</c> itself for completions
/// through the <c>[suggest:POSITION]</c> directive that dotnet-suggest also speaks:
/// <c>welkin "[suggest:11]" "account lis"</c> prints <c>list</c>. The completions are
/// System.CommandLine's for the tree (commands, options and the values an option accepts).
/// </summary>
internal static class CompletionCommands
{
    public const string SuggestDirective = "[suggest";

    public static Command Create(CliApp app)
    {
        var shell = new Argument<string>("SHELL") { Description = "bash or zsh." };
        shell.AcceptOnlyFromAmong("bash", "zsh");
        var command = new Command("completion", "Print the shell completion script: 'source <(welkin completion bash)' in ~/.bashrc, or zsh in ~/.zshrc.") { shell };
        app.Handle(command, inv =>
        {
            inv.Out.Writer.Write(inv.Value(shell) == "zsh" ? Zsh : Bash);
            return Task.FromResult(ExitCodes.Ok);
        });
        return command;
    }

    /// <summary>Answers <c>[suggest:POSITION] "LINE"</c>: the completions at POSITION of LINE, one a line.</summary>
    /// <remarks>LINE is the command line after the program's name; POSITION defaults to its end.</remarks>
    public static int Suggest(Command root, string[] args, TextWriter output)
    {
        var line = args.Length > 1 ? args[1] : "";
        var directive = args[0];
        var position = line.Length;
        if (directive.Length > SuggestDirective.Length + 2 && directive[SuggestDirective.Length] == ':' && directive.EndsWith(']'))
        {
            if (!int.TryParse(directive.AsSpan(SuggestDirective.Length + 1, directive.Length - SuggestDirective.Length - 2), NumberStyles.None, CultureInfo.InvariantCulture, out position))
            {
                return ExitCodes.Usage;
            }
            position = Math.Min(position, line.Length);
        }
        foreach (var completion in root.Parse(line).GetCompletions(position).Select(c => c.Label).Where(l => !l.StartsWith('/')).Distinct(StringComparer.Ordinal))
        {
            output.WriteLine(completion);
        }
        return ExitCodes.Ok;
    }

    // The text up to the cursor, without the program's name, is what is completed.
    private const string Bash = """
        # welkin completion for bash. Install: add to ~/.bashrc
        #   source <(welkin completion bash)
        _welkin_complete()
        {
            local line="${COMP_LINE:0:COMP_POINT}"
            line="${line#*[[:space:]]}"
            local IFS=$'\n'
            COMPREPLY=($("${COMP_WORDS[0]}" "[suggest:${#line}]" "$line" 2>/dev/null))
        }
        complete -o default -F _welkin_complete welkin

        """;

    private const string Zsh = """
        #compdef welkin
        # welkin completion for zsh. Install: add to ~/.zshrc, after compinit
        #   source <(welkin completion zsh)
        _welkin()
        {
            local line="${(j: :)words[2,CURRENT]}"
            local -a completions
            completions=("${(@f)$("${words[1]}" "[suggest:${#line}]" "$line" 2>/dev/null)}")
            compadd -a completions
        }
        compdef _welkin welkin

        """;
}
