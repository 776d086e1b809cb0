using Superpower.Display;

namespace MoePlan.Core.Parsing;

/// <summary>The tokens of the plan language. Keywords arrive as identifiers (a permissive tokenizer gives better errors).</summary>
public enum MoeToken
{
    None,

    [Token(Category = "identifier", Description = "name")]
    Identifier,

    [Token(Category = "literal", Description = "string")]
    String,

    [Token(Category = "literal", Description = "number")]
    Number,

    [Token(Category = "literal", Description = "number with a unit")]
    Quantity,

    [Token(Example = "{")]
    LeftBrace,

    [Token(Example = "}")]
    RightBrace,

    [Token(Example = "(")]
    LeftParenthesis,

    [Token(Example = ")")]
    RightParenthesis,

    [Token(Example = "+")]
    Plus,

    [Token(Example = "-")]
    Minus,

    [Token(Example = "*")]
    Star,

    [Token(Example = "/")]
    Slash,

    [Token(Example = "=")]
    Equals,

    [Token(Example = "<")]
    LessThan,

    [Token(Example = "<=")]
    LessThanOrEqual,

    [Token(Example = ">")]
    GreaterThan,
}
