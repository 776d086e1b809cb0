// expect: MP4023 (16,5)
// A constructor whose chained call's argument makes its own subclass: the argument runs before the body (and its
// budget check), so the chain recurses until the stack overflows.
using MoePlan.Scheduling;

class A
{
    protected A() : this(new B()) { }
    A(A next) { }
}

class B : A { }

class S : Scheduler
{
    public override int ChoosePrefill(IRequestView r, IClusterState c) => new B() is null ? 1 : 0;
}

new S()
