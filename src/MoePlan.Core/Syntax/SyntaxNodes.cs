using System.Collections.Immutable;

namespace MoePlan.Core.Syntax;

/// <summary>Every node keeps the range of text it came from, so later stages can point at it.</summary>
public abstract record SyntaxNode(TextRange Range);

/// <summary>A whole <c>.moe</c> file: imports, let constants and (in a main file) one deployment.</summary>
public sealed record FileSyntax(TextRange Range, ImmutableArray<StatementSyntax> Statements, ImmutableArray<CommentTrivia> Comments)
    : SyntaxNode(Range);

/// <summary>A <c># ...</c> comment, kept for the formatter.</summary>
public sealed record CommentTrivia(TextRange Range, string Text) : SyntaxNode(Range);

public abstract record StatementSyntax(TextRange Range) : SyntaxNode(Range);

/// <summary><c>import "common/slo.moe"</c>: brings the imported file's <c>let</c> constants into scope.</summary>
public sealed record ImportSyntax(TextRange Range, StringLiteralSyntax Path) : StatementSyntax(Range);

/// <summary><c>let name = expression</c>.</summary>
public sealed record LetSyntax(TextRange Range, IdentifierSyntax Name, ExpressionSyntax Value) : StatementSyntax(Range);

/// <summary><c>deployment "name" { settings }</c>.</summary>
public sealed record DeploymentSyntax(TextRange Range, StringLiteralSyntax Name, BlockSyntax Body) : StatementSyntax(Range);

/// <summary><c>{ setting* }</c>.</summary>
public sealed record BlockSyntax(TextRange Range, ImmutableArray<SettingSyntax> Settings) : SyntaxNode(Range);

/// <summary>
/// A setting: its name, the arguments on the same line (up to the next setting name of the block),
/// and an optional nested block, e.g. <c>max_batch 128 per device</c> or <c>parallel { dp 32 ep 32 }</c>.
/// What the arguments mean is the binder's business; the tree stays generic so the formatter can print any of it.
/// </summary>
public sealed record SettingSyntax(TextRange Range, IdentifierSyntax Name, ImmutableArray<ArgumentSyntax> Arguments, BlockSyntax? Block)
    : SyntaxNode(Range);

public abstract record ArgumentSyntax(TextRange Range) : SyntaxNode(Range);

/// <summary>A comparison word inside a setting, as in <c>ttft p99 &lt; 2s</c>.</summary>
public sealed record OperatorSyntax(TextRange Range, string Text) : ArgumentSyntax(Range);

public abstract record ExpressionSyntax(TextRange Range) : ArgumentSyntax(Range);

/// <summary>A plain number: <c>32</c>, <c>0.7</c>.</summary>
public sealed record NumberLiteralSyntax(TextRange Range, double Value, string Text) : ExpressionSyntax(Range);

/// <summary>A number with a unit written against it: <c>50ms</c>, <c>64GiB</c>, <c>200/s</c>, <c>2.0usd/device-hour</c>.</summary>
public sealed record QuantityLiteralSyntax(TextRange Range, double Value, string Unit, string Text) : ExpressionSyntax(Range);

public sealed record StringLiteralSyntax(TextRange Range, string Value, string Text) : ExpressionSyntax(Range);

/// <summary>A name: a <c>let</c> constant, or a word such as <c>sglang</c>, <c>on</c>, <c>p99</c>.</summary>
public sealed record IdentifierSyntax(TextRange Range, string Name) : ExpressionSyntax(Range);

public sealed record BinaryExpressionSyntax(TextRange Range, ExpressionSyntax Left, char Operator, ExpressionSyntax Right) : ExpressionSyntax(Range);

public sealed record NegationSyntax(TextRange Range, ExpressionSyntax Operand) : ExpressionSyntax(Range);

public sealed record ParenthesizedSyntax(TextRange Range, ExpressionSyntax Inner) : ExpressionSyntax(Range);
