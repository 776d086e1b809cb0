// expect: MP4023 (10,5)
// A field initializer that makes its own class: the implicit constructor has no budget check, so the recursion
// overflows the stack (uncatchable in .NET). It kills the script host, not moeplan: MP4023 at the hook.
using MoePlan.Scheduling;

class N { N next = new N(); }

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c) => new N() is null ? 1 : 0;
}

new S()
