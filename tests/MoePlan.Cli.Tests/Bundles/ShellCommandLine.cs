using System.Text;

namespace MoePlan.Cli.Tests.Bundles;

/// <summary>
/// Reads the engine commands back out of generated shell, as bash would split them: backslash-newline joins lines,
/// single quotes are literal, double quotes keep text together and unescape <c>\" \\ \$ \`</c>, a backslash outside quotes
/// escapes the next character, <c>#</c> at the start of a word comments out the rest of the line, and unquoted newlines,
/// <c>;</c> and <c>&amp;</c> end a command. Expansions (<c>$X</c>) are kept as written. Independent of the templates.
/// </summary>
internal sealed class ShellCommandLine
{
    private ShellCommandLine(IReadOnlyList<string> words, IReadOnlyDictionary<string, IReadOnlyList<string>> flags)
    {
        Words = words;
        Flags = flags;
    }

    /// <summary>The command's words after its leading <c>NAME=value</c> assignments and <c>exec</c>.</summary>
    public IReadOnlyList<string> Words { get; }

    /// <summary>Each <c>--flag</c> with the values it was given, in order (a flag followed by another flag, or last, has "").</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Flags { get; }

    public bool Has(string flag) => Flags.ContainsKey(flag);

    /// <summary>The flag's single value; fails when it is absent or repeated.</summary>
    public string Value(string flag) =>
        Flags.TryGetValue(flag, out var values)
            ? values.Count == 1 ? values[0] : throw new InvalidOperationException($"{flag} is given {values.Count} times")
            : throw new KeyNotFoundException($"{flag} is not on the command line: {string.Join(' ', Words)}");

    /// <summary>Every command of a script (one list of words each).</summary>
    public static List<List<string>> Commands(string script)
    {
        var commands = new List<List<string>>();
        var words = new List<string>();
        var word = new StringBuilder();
        var inWord = false;
        void EndWord()
        {
            if (inWord)
            {
                words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
        }

        void EndCommand()
        {
            EndWord();
            if (words.Count > 0)
            {
                commands.Add(words);
                words = [];
            }
        }

        for (var i = 0; i < script.Length; i++)
        {
            var c = script[i];
            switch (c)
            {
                case '\\' when i + 1 < script.Length && script[i + 1] == '\n':
                    i++;
                    break;
                case '\\' when i + 1 < script.Length:
                    word.Append(script[++i]);
                    inWord = true;
                    break;
                case '\'':
                    var close = script.IndexOf('\'', i + 1);
                    if (close < 0)
                    {
                        throw new FormatException($"unterminated single quote at {i}");
                    }

                    word.Append(script, i + 1, close - i - 1);
                    inWord = true;
                    i = close;
                    break;
                case '"':
                    inWord = true;
                    for (i++; ; i++)
                    {
                        if (i >= script.Length)
                        {
                            throw new FormatException("unterminated double quote");
                        }

                        if (script[i] == '"')
                        {
                            break;
                        }

                        if (script[i] == '\\' && i + 1 < script.Length && script[i + 1] is '"' or '\\' or '$' or '`')
                        {
                            word.Append(script[++i]);
                        }
                        else if (script[i] == '\\' && i + 1 < script.Length && script[i + 1] == '\n')
                        {
                            i++;
                        }
                        else
                        {
                            word.Append(script[i]);
                        }
                    }

                    break;
                case '#' when !inWord:
                    while (i + 1 < script.Length && script[i + 1] != '\n')
                    {
                        i++;
                    }

                    break;
                case '\n' or ';' or '&':
                    EndCommand();
                    break;
                case ' ' or '\t' or '\r':
                    EndWord();
                    break;
                default:
                    word.Append(c);
                    inWord = true;
                    break;
            }
        }

        EndCommand();
        return commands;
    }

    /// <summary>The engine commands of a script: <c>vllm serve</c> and <c>python3 -m sglang.launch_server</c>.</summary>
    public static List<ShellCommandLine> EngineCommands(string script)
    {
        var found = new List<ShellCommandLine>();
        foreach (var command in Commands(script))
        {
            var start = 0;
            while (start < command.Count && (command[start] == "exec" || IsAssignment(command[start])))
            {
                start++;
            }

            var words = command.Skip(start).ToList();
            var isVllm = words.Count >= 2 && words[0] == "vllm" && words[1] == "serve";
            var isSglang = words.Count >= 3 && words[0] == "python3" && words[1] == "-m" && words[2] == "sglang.launch_server";
            if (!isVllm && !isSglang)
            {
                continue;
            }

            var flags = new Dictionary<string, List<string>>(StringComparer.Ordinal);
            for (var i = 0; i < words.Count; i++)
            {
                var name = words[i];
                if (!name.StartsWith("--", StringComparison.Ordinal))
                {
                    continue;
                }

                var value = "";
                if (i + 1 < words.Count && !words[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    value = words[++i];
                }

                if (!flags.TryGetValue(name, out var list))
                {
                    flags[name] = list = [];
                }

                list.Add(value);
            }

            found.Add(new ShellCommandLine(words, flags.ToDictionary(f => f.Key, f => (IReadOnlyList<string>)f.Value, StringComparer.Ordinal)));
        }

        return found;
    }

    private static bool IsAssignment(string word)
    {
        var equals = word.IndexOf('=', StringComparison.Ordinal);
        return equals > 0 && word[..equals].All(c => char.IsAsciiLetterOrDigit(c) || c == '_') && !char.IsAsciiDigit(word[0]);
    }
}
