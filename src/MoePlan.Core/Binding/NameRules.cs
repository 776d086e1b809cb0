namespace MoePlan.Core.Binding;

/// <summary>
/// Names that reach generated files are validated once, when the plan is bound, so that no output format has to escape
/// them: the deployment name becomes Kubernetes object and host names (DNS-1123), a model name the engines' served model
/// name and a path segment.
/// </summary>
public static class NameRules
{
    /// <summary>A DNS-1123 label's length limit: every Kubernetes name derived from the deployment fits in it.</summary>
    public const int MaxDeploymentNameLength = 63;

    /// <summary>The characters of a DNS-1123 name.</summary>
    private static readonly System.Buffers.SearchValues<char> NameCharacters = System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-.");

    /// <summary>Why <paramref name="name"/> is not a DNS-1123 name, or null when it is one.</summary>
    public static string? DeploymentNameProblem(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
        {
            return "is empty";
        }

        if (name.Length > MaxDeploymentNameLength)
        {
            return $"has {name.Length} characters";
        }

        // An index, not FirstOrDefault: a NUL character is default(char) and would read as "none found" (the escaping
        // fuzz target bound "tin\0injected: true" that way).
        var badAt = name.AsSpan().IndexOfAnyExcept(NameCharacters);
        if (badAt >= 0)
        {
            var bad = name[badAt];
            return char.IsControl(bad) || char.IsWhiteSpace(bad) || bad is '\u2028' or '\u2029' or '\uFEFF'
                ? $"has a control, space or line-break character (U+{(int)bad:X4})"
                : $"has `{bad}`";
        }

        return IsLowerAlphanumeric(name[0]) && IsLowerAlphanumeric(name[^1]) ? null : "does not start and end with a letter or digit";
    }

    /// <summary>A DNS-1123 name close to <paramref name="name"/>: lower-cased, other characters as '-', trimmed.</summary>
    public static string SuggestedName(string name)
    {
        var chars = name.ToLowerInvariant().Select(c => IsNameCharacter(c) ? c : '-').ToArray();
        var text = new string(chars).Trim('-', '.');
        while (text.Contains("--", StringComparison.Ordinal))
        {
            text = text.Replace("--", "-", StringComparison.Ordinal);
        }

        text = text.Length > MaxDeploymentNameLength ? text[..MaxDeploymentNameLength].TrimEnd('-', '.') : text;
        return text.Length == 0 ? "deployment" : text;
    }

    /// <summary>Letters, digits, '.', '_' and '-' only: safe as a served model name, a URL path part and a file name.</summary>
    public static bool IsModelName(string name) =>
        name.Length > 0 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static bool IsLowerAlphanumeric(char c) => c is (>= 'a' and <= 'z') or (>= '0' and <= '9');

    private static bool IsNameCharacter(char c) => IsLowerAlphanumeric(c) || c is '-' or '.';
}
