using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using static Microsoft.CodeAnalysis.CSharp.SyntaxFactory;

namespace MoePlan.Scripting;

/// <summary>
/// Inserts the budget's checks into a confined script before it is emitted: <c>ScriptBudget.Check()</c> at every
/// loop iteration, goto, and method, local-function, accessor, operator and lambda entry (expression bodies
/// become blocks), and <c>ScriptBudget.Size(n)</c> around array lengths and BCL size arguments. Nothing is put on
/// a new line, so the script's line numbers (in stack traces) stay its own.
/// </summary>
internal sealed class BudgetInstrumenter(SemanticModel model) : CSharpSyntaxRewriter
{
    private const string Budget = "global::MoePlan.Scheduling.Confinement.ScriptBudget";

    public static SyntaxTree Instrument(SemanticModel model)
    {
        var tree = model.SyntaxTree;
        var root = new BudgetInstrumenter(model).Visit(tree.GetRoot());
        return CSharpSyntaxTree.Create((CSharpSyntaxNode)root, (CSharpParseOptions)tree.Options, tree.FilePath, System.Text.Encoding.UTF8);
    }

    private static StatementSyntax CheckStatement() =>
        ParseStatement(Budget + ".Check();").WithoutTrivia().WithTrailingTrivia(Space);

    private static ExpressionSyntax Sized(ExpressionSyntax e) =>
        InvocationExpression(ParseExpression(Budget + ".Size"), ArgumentList(SingletonSeparatedList(Argument(e.WithoutTrivia()))))
            .WithTriviaFrom(e);

    private static BlockSyntax Prepend(StatementSyntax body) => body is BlockSyntax block
        ? block.WithStatements(block.Statements.Insert(0, CheckStatement()))
        : Block(CheckStatement(), body.WithoutLeadingTrivia()).WithLeadingTrivia(body.GetLeadingTrivia()).WithTrailingTrivia(body.GetTrailingTrivia());

    /// <summary><c>=&gt; e;</c> as <c>{ Check(); return e; }</c> (or <c>e;</c> when void), on the same lines.</summary>
    private static BlockSyntax AsBlock(ArrowExpressionClauseSyntax arrow, bool returnsVoid, SyntaxToken semicolon) =>
        AsBlock(arrow.ArrowToken, arrow.Expression, returnsVoid, semicolon.IsKind(SyntaxKind.None) ? default : semicolon.TrailingTrivia);

    private static BlockSyntax AsBlock(SyntaxToken arrow, ExpressionSyntax e, bool returnsVoid, SyntaxTriviaList after)
    {
        StatementSyntax body = e switch
        {
            ThrowExpressionSyntax t => ThrowStatement(t.ThrowKeyword.WithTrailingTrivia(Space), t.Expression, Token(SyntaxKind.SemicolonToken)),
            _ when returnsVoid => ExpressionStatement(e),
            _ => ReturnStatement(Token(SyntaxKind.ReturnKeyword).WithTrailingTrivia(Space), e.WithoutLeadingTrivia(), Token(SyntaxKind.SemicolonToken)),
        };
        return Block(Token(SyntaxKind.OpenBraceToken).WithLeadingTrivia(arrow.LeadingTrivia).WithTrailingTrivia(arrow.TrailingTrivia), List([CheckStatement(), body]), Token(SyntaxKind.CloseBraceToken).WithTrailingTrivia(after));
    }

    private static bool IsVoid(TypeSyntax type) => type is PredefinedTypeSyntax p && p.Keyword.IsKind(SyntaxKind.VoidKeyword);

    // Loops: a check per iteration.
    public override SyntaxNode? VisitWhileStatement(WhileStatementSyntax node) => ((WhileStatementSyntax)base.VisitWhileStatement(node)!) is var v ? v.WithStatement(Prepend(v.Statement)) : null;

    public override SyntaxNode? VisitDoStatement(DoStatementSyntax node) => ((DoStatementSyntax)base.VisitDoStatement(node)!) is var v ? v.WithStatement(Prepend(v.Statement)) : null;

    public override SyntaxNode? VisitForStatement(ForStatementSyntax node) => ((ForStatementSyntax)base.VisitForStatement(node)!) is var v ? v.WithStatement(Prepend(v.Statement)) : null;

    public override SyntaxNode? VisitForEachStatement(ForEachStatementSyntax node) => ((ForEachStatementSyntax)base.VisitForEachStatement(node)!) is var v ? v.WithStatement(Prepend(v.Statement)) : null;

    public override SyntaxNode? VisitForEachVariableStatement(ForEachVariableStatementSyntax node) => ((ForEachVariableStatementSyntax)base.VisitForEachVariableStatement(node)!) is var v ? v.WithStatement(Prepend(v.Statement)) : null;

    public override SyntaxNode? VisitGotoStatement(GotoStatementSyntax node) => Prepend((StatementSyntax)base.VisitGotoStatement(node)!);

    // Entries: a check per call (time, and the stack before deep recursion overflows it).
    public override SyntaxNode? VisitMethodDeclaration(MethodDeclarationSyntax node) =>
        Entry((MethodDeclarationSyntax)base.VisitMethodDeclaration(node)!, IsVoid(node.ReturnType));

    public override SyntaxNode? VisitConstructorDeclaration(ConstructorDeclarationSyntax node) => Entry((BaseMethodDeclarationSyntax)base.VisitConstructorDeclaration(node)!, true);

    public override SyntaxNode? VisitOperatorDeclaration(OperatorDeclarationSyntax node) => Entry((BaseMethodDeclarationSyntax)base.VisitOperatorDeclaration(node)!, false);

    public override SyntaxNode? VisitConversionOperatorDeclaration(ConversionOperatorDeclarationSyntax node) => Entry((BaseMethodDeclarationSyntax)base.VisitConversionOperatorDeclaration(node)!, false);

    private static BaseMethodDeclarationSyntax Entry(BaseMethodDeclarationSyntax v, bool returnsVoid) =>
        v.Body is { } b ? v.WithBody(Prepend(b))
            : v.ExpressionBody is { } e ? v.WithBody(AsBlock(e, returnsVoid, v.SemicolonToken)).WithExpressionBody(null).WithSemicolonToken(default)
            : v;

    public override SyntaxNode? VisitLocalFunctionStatement(LocalFunctionStatementSyntax node)
    {
        var v = (LocalFunctionStatementSyntax)base.VisitLocalFunctionStatement(node)!;
        return v.Body is { } b ? v.WithBody(Prepend(b))
            : v.ExpressionBody is { } e ? v.WithBody(AsBlock(e, IsVoid(v.ReturnType), v.SemicolonToken)).WithExpressionBody(null).WithSemicolonToken(default)
            : v;
    }

    public override SyntaxNode? VisitAccessorDeclaration(AccessorDeclarationSyntax node)
    {
        var v = (AccessorDeclarationSyntax)base.VisitAccessorDeclaration(node)!;
        bool returnsVoid = !v.IsKind(SyntaxKind.GetAccessorDeclaration);
        return v.Body is { } b ? v.WithBody(Prepend(b))
            : v.ExpressionBody is { } e ? v.WithBody(AsBlock(e, returnsVoid, v.SemicolonToken)).WithExpressionBody(null).WithSemicolonToken(default)
            : v;
    }

    public override SyntaxNode? VisitPropertyDeclaration(PropertyDeclarationSyntax node)
    {
        var v = (PropertyDeclarationSyntax)base.VisitPropertyDeclaration(node)!;
        return v.ExpressionBody is { } e ? v.WithExpressionBody(null).WithSemicolonToken(default).WithAccessorList(Getter(e, v.SemicolonToken)) : v;
    }

    public override SyntaxNode? VisitIndexerDeclaration(IndexerDeclarationSyntax node)
    {
        var v = (IndexerDeclarationSyntax)base.VisitIndexerDeclaration(node)!;
        return v.ExpressionBody is { } e ? v.WithExpressionBody(null).WithSemicolonToken(default).WithAccessorList(Getter(e, v.SemicolonToken)) : v;
    }

    /// <summary><c>=&gt; e;</c> of a property or indexer as <c>{ get { Check(); return e; } }</c>.</summary>
    private static AccessorListSyntax Getter(ArrowExpressionClauseSyntax e, SyntaxToken semicolon) =>
        AccessorList(Token(SyntaxKind.OpenBraceToken), SingletonList(AccessorDeclaration(SyntaxKind.GetAccessorDeclaration, AsBlock(e, false, default))), Token(SyntaxKind.CloseBraceToken).WithTrailingTrivia(semicolon.TrailingTrivia));

    public override SyntaxNode? VisitSimpleLambdaExpression(SimpleLambdaExpressionSyntax node) => Lambda(node, base.VisitSimpleLambdaExpression(node));

    public override SyntaxNode? VisitParenthesizedLambdaExpression(ParenthesizedLambdaExpressionSyntax node) => Lambda(node, base.VisitParenthesizedLambdaExpression(node));

    public override SyntaxNode? VisitAnonymousMethodExpression(AnonymousMethodExpressionSyntax node) => Lambda(node, base.VisitAnonymousMethodExpression(node));

    private SyntaxNode? Lambda(AnonymousFunctionExpressionSyntax original, SyntaxNode? visited)
    {
        var v = (AnonymousFunctionExpressionSyntax)visited!;
        if (v.Block is { } b)
        {
            return v.WithBlock(Prepend(b));
        }

        if (v.ExpressionBody is not { } e || v is not LambdaExpressionSyntax lambda)
        {
            return v;
        }

        bool returnsVoid = model.GetSymbolInfo(original).Symbol is IMethodSymbol { ReturnsVoid: true };
        var block = AsBlock(Token(SyntaxKind.None).WithTrailingTrivia(Space), e, returnsVoid, default);
        return lambda.WithExpressionBody(null).WithBlock(block);
    }

    // Sizes: array lengths and BCL size arguments are bounded.
    public override SyntaxNode? VisitArrayRankSpecifier(ArrayRankSpecifierSyntax node)
    {
        var v = (ArrayRankSpecifierSyntax)base.VisitArrayRankSpecifier(node)!;
        if (node.Parent is not ArrayTypeSyntax { Parent: ArrayCreationExpressionSyntax })
        {
            return v;
        }

        return v.WithSizes(SeparatedList(v.Sizes.Select(s => s is OmittedArraySizeExpressionSyntax ? s : Sized(s)), v.Sizes.GetSeparators()));
    }

    public override SyntaxNode? VisitArgument(ArgumentSyntax node)
    {
        var v = (ArgumentSyntax)base.VisitArgument(node)!;
        if (!v.RefKindKeyword.IsKind(SyntaxKind.None)
            || model.GetOperation(node) is not Microsoft.CodeAnalysis.Operations.IArgumentOperation { Parameter: { } p }
            || SymbolEqualityComparer.Default.Equals(p.ContainingAssembly, model.Compilation.Assembly)
            || !ScriptConfinement.SizeParameters.Contains(p.Name)
            || p.Type.SpecialType is not (SpecialType.System_Int32 or SpecialType.System_Int64))
        {
            return v;
        }

        return v.WithExpression(Sized(v.Expression));
    }
}
