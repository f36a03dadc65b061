// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.scijava.plugin;


import java.lang.annotation.*;
@Retention(RetentionPolicy.RUNTIME) @Target(ElementType.TYPE)
public @interface Plugin { Class<?> type(); double priority() default 0; boolean visible() default true; String name() default ""; String menuPath() default ""; boolean headless() default false; }
