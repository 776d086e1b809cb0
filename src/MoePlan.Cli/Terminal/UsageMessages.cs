using System.Text.RegularExpressions;

namespace MoePlan.Cli.Terminal;

/// <summary>System.CommandLine's parse errors in the CLI's own words: no .NET type names in front of a user.</summary>
internal static partial class UsageMessages
{
    public static string Reword(string message)
    {
        var bad = CannotParse().Match(message);
        if (bad.Success)
        {
            return $"'{bad.Groups["value"].Value}' is not a valid value for {bad.Groups["option"].Value}: expected {Expected(bad.Groups["type"].Value)}";
        }

        return message;
    }

    /// <summary>What a value of a .NET type looks like to a user.</summary>
    private static string Expected(string type) => type switch
    {
        _ when type.Contains("Int32", StringComparison.Ordinal) || type.Contains("Int64", StringComparison.Ordinal) => "a whole number",
        _ when type.Contains("Double", StringComparison.Ordinal) || type.Contains("Single", StringComparison.Ordinal) => "a number",
        _ when type.Contains("Boolean", StringComparison.Ordinal) => "true or false",
        _ => "a value of another form",
    };

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for (option|argument) '(?<option>[^']*)' as expected type '(?<type>[^']*)'\.?$", RegexOptions.Singleline)]
    private static partial Regex CannotParse();
}
