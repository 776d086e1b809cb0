return MoePlan.Cli.MoePlanCli.Run(args, Console.Out, Console.Error);
