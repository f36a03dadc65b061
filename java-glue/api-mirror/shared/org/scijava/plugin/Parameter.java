// Compile-only API mirror (clean-room, written from documented signatures). NEVER shipped, NEVER run.
package org.scijava.plugin;

import java.lang.annotation.*;

import org.scijava.ItemIO;

@Retention(RetentionPolicy.RUNTIME) @Target(ElementType.FIELD)
public @interface Parameter {
  String label() default "";
  String description() default "";
  ItemIO type() default ItemIO.INPUT;
  boolean required() default true;
  boolean persist() default true;
  String style() default "";
  String[] choices() default {};
}
