// The script host: moeplan starts it (`dotnet exec MoePlan.ScriptHost.dll`) with its standard input and output as
// the message pipe; a script that overflows the stack, aborts or hangs ends this process, never moeplan.
return MoePlan.Scripting.Isolation.ScriptHostServer.Run(Console.OpenStandardInput(), Console.OpenStandardOutput());
