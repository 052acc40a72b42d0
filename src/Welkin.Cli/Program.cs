using Welkin.Cli;

return await CliApp.RunAsync(args, CliContext.FromProcess());
